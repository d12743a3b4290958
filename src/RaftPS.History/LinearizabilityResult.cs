namespace RaftPS.History;

/// <summary>
/// Outcome of <see cref="LinearizabilityChecker.Check"/>. When the budget ran out, <see cref="TimedOut"/> is true and
/// <see cref="IsLinearizable"/> is true (unknown: callers treat it as a pass but should log it).
/// <see cref="Key"/> names the offending key on a violation, or the key being searched when time ran out.
/// </summary>
public sealed record LinearizabilityResult(bool IsLinearizable, bool TimedOut, string? Key, string Explanation);
