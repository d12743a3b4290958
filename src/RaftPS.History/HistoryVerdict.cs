namespace RaftPS.History;

/// <summary>
/// What <see cref="HistoryAnalyzer.Analyze"/> concluded about a history.
/// <para>When <see cref="IsLinearizable"/> is false, <see cref="Key"/> names the key whose sub-history cannot be
/// linearized and [<see cref="WindowStart"/>, <see cref="WindowEnd"/>] is the shortest time window found that is
/// already impossible on its own, from any value the key could have held when it opened;
/// <see cref="FailingWindow"/> lists that key's operations in it. <see cref="TimedOut"/> means no verdict: the budget
/// ran out (then <see cref="IsLinearizable"/> is true, as the checker reports it, but proves nothing).</para>
/// </summary>
public sealed class HistoryVerdict
{
    public required bool IsLinearizable { get; init; }
    public required bool TimedOut { get; init; }
    /// <summary>Operations checked.</summary>
    public required int Operations { get; init; }
    /// <summary>Of those, writes whose outcome is unknown (checked as "may or may not have happened").</summary>
    public required int Unknown { get; init; }
    /// <summary>Distinct keys.</summary>
    public required int Keys { get; init; }
    /// <summary>The offending key on a violation (or the key being searched when the budget ran out).</summary>
    public string? Key { get; init; }
    public required string Explanation { get; init; }
    public long? WindowStart { get; init; }
    public long? WindowEnd { get; init; }
    /// <summary>The offending key's operations that overlap the failing window (empty unless a violation was found).</summary>
    public IReadOnlyList<KvOperation> FailingWindow { get; init; } = [];
    public required TimeSpan Elapsed { get; init; }
}
