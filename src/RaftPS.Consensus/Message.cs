namespace RaftPS.Consensus;

/// <summary>Kinds of message. Local ones never leave the node (Term is 0 for them).</summary>
public enum MessageType : byte
{
    // local
    Hup = 0,          // start an election now
    Beat = 1,         // leader: send heartbeats now
    // between peers
    PreVote = 10,
    PreVoteResponse = 11,
    Vote = 12,
    VoteResponse = 13,
    Append = 14,
    AppendResponse = 15,
    Heartbeat = 16,
    HeartbeatResponse = 17,
    InstallSnapshot = 18,
    TimeoutNow = 19,
}

/// <summary>
/// One Raft message. Field use per type follows etcd-io/raft: for Append, (LogTerm, Index) identify the entry
/// that precedes <see cref="Entries"/>; for responses Index is the follower's last matching index, and a
/// rejection carries a hint (RejectHint, LogTerm) for fast backtracking (paper §5.3).
/// </summary>
public sealed record Message
{
    public MessageType Type { get; init; }
    public ulong From { get; init; }
    public ulong To { get; init; }
    public ulong Term { get; init; }
    public ulong LogTerm { get; init; }
    public ulong Index { get; init; }
    public IReadOnlyList<Entry> Entries { get; init; } = [];
    public ulong Commit { get; init; }
    public bool Reject { get; init; }
    public ulong RejectHint { get; init; }
    /// <summary>ReadIndex context on heartbeats; "transfer" marker on a vote forced by TimeoutNow.</summary>
    public byte[]? Context { get; init; }
    public Snapshot? Snapshot { get; init; }

    public override string ToString() =>
        $"{Type} {From}->{To} t{Term} lt{LogTerm} i{Index} c{Commit}" +
        (Entries.Count > 0 ? $" e[{Entries[0].Index}..{Entries[^1].Index}]" : "") +
        (Reject ? $" reject(hint {RejectHint})" : "") +
        (Snapshot is { } s ? $" snap@{s.Index}" : "");
}
