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

    /// <summary>
    /// Splits <see cref="Messages"/> into those a leader may send before persisting this Ready (thesis §10.2.1: its
    /// appends, heartbeats, snapshots and TimeoutNow, when this Ready changes neither term nor vote relative to
    /// <paramref name="durable"/>) and the rest, which must wait for the fsync. Early messages never announce a commit
    /// covering entries this Ready is about to write. Safe only if the caller handles no input between the two sends
    /// and the fsync, so acknowledgements are counted after the leader's own write.
    /// </summary>
    public (IReadOnlyList<Message> Early, IReadOnlyList<Message> AfterPersist) SplitForEarlySend(Role role, HardState durable)
    {
        if (role != Role.Leader || HardState is { } h && (h.Term != durable.Term || h.Vote != durable.Vote))
            return ([], Messages);
        var early = new List<Message>();
        var after = new List<Message>();
        foreach (var m in Messages)
        {
            if (m.Type is not (MessageType.Append or MessageType.Heartbeat or MessageType.InstallSnapshot or MessageType.TimeoutNow))
                after.Add(m);
            else if (Entries.Count > 0 && m.Commit >= Entries[0].Index)
                early.Add(m with { Commit = Entries[0].Index - 1 });
            else
                early.Add(m);
        }
        return (early, after);
    }

    public bool IsEmpty => HardState is null && Entries.Count == 0 && Snapshot is null && CommittedEntries.Count == 0 &&
                           Messages.Count == 0 && ReadStates.Count == 0;
}
