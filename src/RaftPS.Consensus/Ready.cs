namespace RaftPS.Consensus;

public enum Role
{
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// <summary>A linearizable read became safe: once applied ≥ Index, the read tagged Context may be served (thesis §6.4).</summary>
public sealed record ReadState(ulong Index, byte[] Context);

/// <summary>
/// Everything the caller must do after feeding inputs, in this order: persist <see cref="HardState"/>, <see cref="Entries"/>
/// and <see cref="Snapshot"/> (fsync when <see cref="MustSync"/>); then send <see cref="Messages"/>; then install the
/// snapshot and apply <see cref="CommittedEntries"/>; then serve <see cref="ReadStates"/> once applied far enough; finally
/// call <see cref="Raft.Advance"/>. Messages may depend on what was persisted (votes, append acknowledgements), so
/// persisting first is mandatory (paper Fig. 2: "updated on stable storage before responding").
/// </summary>
public sealed class Ready
{
    public HardState? HardState { get; init; }
    public IReadOnlyList<Entry> Entries { get; init; } = [];
    public Snapshot? Snapshot { get; init; }
    public IReadOnlyList<Entry> CommittedEntries { get; init; } = [];
    public IReadOnlyList<Message> Messages { get; init; } = [];
    public IReadOnlyList<ReadState> ReadStates { get; init; } = [];
    /// <summary>Term, vote or entries changed: fsync before sending or acknowledging. A commit-only change need not be synced.</summary>
    public bool MustSync { get; init; }

    public bool IsEmpty => HardState is null && Entries.Count == 0 && Snapshot is null && CommittedEntries.Count == 0 &&
                           Messages.Count == 0 && ReadStates.Count == 0;
}
