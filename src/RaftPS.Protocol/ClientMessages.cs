namespace RaftPS.Protocol;

/// <summary>What a client asks a node to do.</summary>
public enum ClientOp : byte
{
    Get = 1,
    Put = 2,
    Delete = 3,
    CompareAndSet = 4,
    List = 5,
    Status = 6,
    /// <summary>Drills: set this node's injected transport faults (refused unless the node allows fault injection).</summary>
    SetFaults = 7,
    /// <summary>Ask the leader to hand leadership to the member named in <see cref="ClientRequest.Key"/> (thesis §3.10).</summary>
    TransferLeadership = 8,
    /// <summary>The configuration as the leader sees it, with per-member match index and lag (a NodeStatus reply).</summary>
    Members = 9,
    /// <summary>Add <see cref="ClientRequest.Key"/> at <see cref="ClientRequest.Endpoint"/> as a learner; promoted once caught up unless <see cref="ClientRequest.AsLearner"/>.</summary>
    AddMember = 10,
    /// <summary>Remove <see cref="ClientRequest.Key"/>; <see cref="ClientRequest.Force"/> skips the quorum safety check.</summary>
    RemoveMember = 11,
    /// <summary>Make learner <see cref="ClientRequest.Key"/> a voter now (it must be caught up unless forced).</summary>
    PromoteMember = 12,
    /// <summary>Drills: the transport faults currently injected into this node (that node only).</summary>
    GetFaults = 13,
    /// <summary>Take a snapshot of this node's state now and compact its log (that node only); the reply's Version is its index.</summary>
    Snapshot = 14,
    /// <summary>
    /// Ask the leader to append a digest checkpoint now: every replica hashes its state at that index, and the next
    /// checkpoint carries the leader's hash for the others to compare. The reply's NodeStatus is the leader's, with
    /// its digest at the checkpoint's index.
    /// </summary>
    Checkpoint = 15,
}

/// <summary>Why the leader refused a membership change (reply status <see cref="ReplyStatus.MembershipRejected"/>).</summary>
public enum MembershipError : byte
{
    None = 0,
    UnknownMember = 1,
    DuplicateId = 2,
    DuplicateAddress = 3,
    ChangeInProgress = 4,
    WouldLoseQuorum = 5,
    LearnerBehind = 6,
    RemovedId = 7,
    InvalidMember = 8,
}

/// <summary>
/// Transport faults for a drill: drop a fraction of peer datagrams, delay them, cut this node off from named peers, or
/// suspend it entirely (nothing in or out, like a paused VM) for a while. The node lifts a suspension by itself.
/// </summary>
public sealed record FaultSpec
{
    public double DropRate { get; init; }
    public int DelayMs { get; init; }
    public IReadOnlyList<string> PartitionFrom { get; init; } = [];
    public int SuspendMs { get; init; }

    public static readonly FaultSpec None = new();
}

/// <summary>How a read is served: linearizable via ReadIndex on the leader (default), or stale from any node's local state.</summary>
public enum ReadConsistency : byte
{
    Linearizable = 0,
    Stale = 1,
}

/// <summary>Outcome of a request, as the node reports it.</summary>
public enum ReplyStatus : byte
{
    Ok = 0,
    NotLeader = 1,
    KeyNotFound = 2,
    VersionMismatch = 3,
    ValueTooLarge = 4,
    Unavailable = 5,
    BadRequest = 6,
    SessionExpired = 7,
    /// <summary>A membership change was refused; <see cref="ClientReply.MembershipError"/> says why.</summary>
    MembershipRejected = 8,
    /// <summary>The node's ingress queue is full: back off and retry (nothing was done).</summary>
    Busy = 9,
    /// <summary>The request carried no credential the node accepts (none, or a wrong or retired secret). Sent in plaintext, never larger than the request.</summary>
    Unauthorized = 10,
    /// <summary>The credential is valid but its role may not do this (e.g. a client credential asking for a membership change).</summary>
    Forbidden = 11,
}

/// <summary>
/// A client request. Writes carry (ClientId, Sequence) so the replicated state applies a retried write once
/// (Raft thesis §6.3). RequestId only correlates a datagram reply with its request.
/// </summary>
public sealed record ClientRequest
{
    public ulong RequestId { get; init; }
    public ulong ClientId { get; init; }
    public ulong Sequence { get; init; }
    public ClientOp Op { get; init; }
    public string Key { get; init; } = "";
    public byte[]? Value { get; init; }
    /// <summary>CompareAndSet: expected version (0 = key must not exist), if set.</summary>
    public ulong? ExpectedVersion { get; init; }
    /// <summary>CompareAndSet: expected current value, if set.</summary>
    public byte[]? ExpectedValue { get; init; }
    public ReadConsistency Consistency { get; init; }
    /// <summary>List: maximum number of items (0 = no limit).</summary>
    public int Limit { get; init; }
    /// <summary>SetFaults: the faults to inject.</summary>
    public FaultSpec? Faults { get; init; }
    /// <summary>List: continue after this key (the <see cref="ClientReply.ContinuationToken"/> of the previous page).</summary>
    public string? After { get; init; }
    /// <summary>AddMember: the new member's "host:port".</summary>
    public string? Endpoint { get; init; }
    /// <summary>AddMember: keep the new member a learner (no automatic promotion).</summary>
    public bool AsLearner { get; init; }
    /// <summary>RemoveMember/PromoteMember: skip the safety check (quorum of caught-up voters, learner caught up).</summary>
    public bool Force { get; init; }
}

/// <summary>One key with its value and version (the log index that last wrote it).</summary>
public sealed record KvItem(string Key, byte[] Value, ulong Version);

/// <summary>What a member is in the configuration a node holds.</summary>
public static class MemberRoles
{
    public const string Voter = "Voter";
    /// <summary>A voter of the outgoing half of a joint configuration only (leaving).</summary>
    public const string OutgoingVoter = "OutgoingVoter";
    public const string Learner = "Learner";
    /// <summary>A learner the leader promotes to voter once it has caught up.</summary>
    public const string Joining = "Joining";
}

/// <summary>
/// One cluster member as seen by a node. <see cref="Match"/> and <see cref="Lag"/> (entries behind the leader's last
/// index) and <see cref="Reachable"/> are known only on the leader.
/// </summary>
public sealed record MemberInfo(string Id, string Host, int Port, bool IsVoter)
{
    public string Role { get; init; } = IsVoter ? MemberRoles.Voter : MemberRoles.Learner;
    public ulong Match { get; init; }
    public ulong Lag { get; init; }
    public bool Reachable { get; init; }
    public string Endpoint => ClusterDefinition.FormatEndpoint(Host, Port);
}

/// <summary>A node's view of itself and the cluster (reply to <see cref="ClientOp.Status"/>).</summary>
public sealed record NodeStatus
{
    public string Id { get; init; } = "";
    public string Role { get; init; } = "";
    public ulong Term { get; init; }
    public string? Leader { get; init; }
    public ulong CommitIndex { get; init; }
    public ulong AppliedIndex { get; init; }
    public ulong LastIndex { get; init; }
    public ulong SnapshotIndex { get; init; }
    public IReadOnlyList<MemberInfo> Members { get; init; } = [];
    /// <summary>True while a joint configuration (C_old,new) is in force (paper §6).</summary>
    public bool Joint { get; init; }
    /// <summary>Leader only: a configuration change is appended but not yet applied.</summary>
    public bool ChangePending { get; init; }
    /// <summary>This node was removed from the cluster (it no longer campaigns or serves).</summary>
    public bool Removed { get; init; }
    /// <summary>This node holds no configuration yet: it waits to be added (started with --join).</summary>
    public bool Joining { get; init; }
    /// <summary>Index of this replica's latest state digest (taken at a checkpoint entry); 0 when it has none yet.</summary>
    public ulong DigestIndex { get; init; }
    /// <summary>That digest as 32 hex digits; replicas that applied the same log agree on it at the same index.</summary>
    public string? Digest { get; init; }
    /// <summary>The latest index at which this replica compared its digest with the leader's and found them equal.</summary>
    public ulong DigestVerifiedIndex { get; init; }
    /// <summary>Set when this replica's digest differed from the leader's at the same index: its state drifted.</summary>
    public string? DigestMismatch { get; init; }
}

/// <summary>A node's answer to a <see cref="ClientRequest"/>.</summary>
public sealed record ClientReply
{
    public ulong RequestId { get; init; }
    public ReplyStatus Status { get; init; }
    /// <summary>On NotLeader: the last known leader's id and "host:port", when known.</summary>
    public string? LeaderId { get; init; }
    public string? LeaderEndpoint { get; init; }
    /// <summary>Get: one item; List: the matching items; Put/CAS: the written item.</summary>
    public IReadOnlyList<KvItem> Items { get; init; } = [];
    /// <summary>Version of the key after a write, or the current version on VersionMismatch.</summary>
    public ulong Version { get; init; }
    /// <summary>True when a read was served from local state without confirming leadership.</summary>
    public bool Stale { get; init; }
    public string? Error { get; init; }
    public NodeStatus? NodeStatus { get; init; }
    public MembershipError MembershipError { get; init; }
    /// <summary>GetFaults: the faults in force on the node.</summary>
    public FaultSpec? Faults { get; init; }
    /// <summary>List: more matches may follow; ask again with this as <see cref="ClientRequest.After"/>. Null on the last page.</summary>
    public string? ContinuationToken { get; init; }
}
