namespace RaftPS.History;

/// <summary>
/// What a stopped <see cref="KvWorkload"/> did and what its read-back found. <see cref="LostWrites"/> lists
/// acknowledged ledger writes that a linearizable read no longer returns ("key: wrote X, read Y");
/// <see cref="Unverified"/> lists ledger keys that could not be read back before the timeout.
/// </summary>
public sealed class WorkloadResult
{
    public required int Operations { get; init; }
    public required long Acknowledged { get; init; }
    public required long Unknown { get; init; }
    public required long NotApplied { get; init; }
    public required long Reads { get; init; }
    public required int LedgerWrites { get; init; }
    public required int Verified { get; init; }
    public required IReadOnlyList<string> LostWrites { get; init; }
    public required IReadOnlyList<string> Unverified { get; init; }
    public required IReadOnlyList<string> Errors { get; init; }
    public required TimeSpan Duration { get; init; }
}
