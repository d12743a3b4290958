using RaftPS.Protocol;

namespace RaftPS;

/// <summary>One node's status as Get-RaftNode and Wait-RaftLeader emit it.</summary>
public sealed class NodeState
{
    public required string Id { get; init; }
    public required string Endpoint { get; init; }
    /// <summary>Leader, Follower, Candidate, PreCandidate, Learner; Unreachable when it did not answer.</summary>
    public required string Role { get; init; }
    public ulong Term { get; init; }
    public string? Leader { get; init; }
    public ulong CommitIndex { get; init; }
    public ulong AppliedIndex { get; init; }
    public ulong LastIndex { get; init; }
    public ulong SnapshotIndex { get; init; }
    /// <summary>The members this node knows (on the leader: with their replication lag, where the node reports it).</summary>
    public IReadOnlyList<Member> Members { get; init; } = [];
    /// <summary>A joint configuration (old and new members together) is in force.</summary>
    public bool Joint { get; init; }
    /// <summary>On the leader: a membership change is appended but not applied yet.</summary>
    public bool ChangePending { get; init; }
    /// <summary>This node was removed from the cluster; it no longer campaigns or serves.</summary>
    public bool Removed { get; init; }
    /// <summary>Index of this replica's latest state digest (taken at a checkpoint entry; see Test-RaftReplica).</summary>
    public ulong DigestIndex { get; init; }
    /// <summary>That digest, 32 hex digits; replicas agree on it at the same index.</summary>
    public string? Digest { get; init; }
    /// <summary>Set when this replica found its digest differing from the leader's: its state drifted.</summary>
    public string? DigestMismatch { get; init; }

    public bool IsLeader => string.Equals(Role, "Leader", StringComparison.OrdinalIgnoreCase);

    internal static NodeState From(NodeStatus s, string endpoint) => new()
    {
        Id = s.Id,
        Endpoint = endpoint,
        Role = s.Role,
        Term = s.Term,
        Leader = s.Leader,
        CommitIndex = s.CommitIndex,
        AppliedIndex = s.AppliedIndex,
        LastIndex = s.LastIndex,
        SnapshotIndex = s.SnapshotIndex,
        Members = s.Members.Select(Member.From).ToArray(),
        Joint = s.Joint,
        ChangePending = s.ChangePending,
        Removed = s.Removed,
        DigestIndex = s.DigestIndex,
        Digest = s.Digest,
        DigestMismatch = s.DigestMismatch,
    };

    internal static NodeState Unreachable(string id, string endpoint) => new() { Id = id, Endpoint = endpoint, Role = "Unreachable" };

    public override string ToString() => $"{Id} {Role}";
}
