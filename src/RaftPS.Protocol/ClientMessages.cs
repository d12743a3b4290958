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
    /// <summary>The node's ingress queue is full: back off and retry (nothing was done).</summary>
    Busy = 8,
    /// <summary>The request carried no credential the node accepts (none, or a wrong or retired secret). Sent in plaintext, never larger than the request.</summary>
    Unauthorized = 9,
    /// <summary>The credential is valid but its role may not do this (e.g. a client credential asking for a membership change).</summary>
    Forbidden = 10,
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
}

/// <summary>One key with its value and version (the log index that last wrote it).</summary>
public sealed record KvItem(string Key, byte[] Value, ulong Version);

/// <summary>One cluster member as seen by a node.</summary>
public sealed record MemberInfo(string Id, string Host, int Port, bool IsVoter);

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
}
