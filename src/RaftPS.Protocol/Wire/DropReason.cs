namespace RaftPS.Protocol.Wire;

/// <summary>Why an incoming (or outgoing) datagram was discarded. Used as an index into <see cref="WireCounters"/>.</summary>
public enum DropReason
{
    None = 0,
    /// <summary>Truncated, inconsistent lengths, undefined flags or chunk fields, or a payload the codec rejects.</summary>
    Malformed,
    /// <summary>Not an RFPS datagram at all.</summary>
    BadMagic,
    UnsupportedVersion,
    /// <summary>Cluster id differs: a node of another cluster (or a stale config) is talking to us.</summary>
    ForeignCluster,
    /// <summary>Authenticated datagram whose tag does not verify with our key.</summary>
    BadAuth,
    /// <summary>We have a key and the datagram has no tag, or we have none and it carries one.</summary>
    AuthMismatch,
    /// <summary>A kind this endpoint does not accept (e.g. a client reply arriving at a node).</summary>
    UnexpectedKind,
    /// <summary>Reassembly limits hit: too many partial messages, too many buffered bytes, or a message over the size limit.</summary>
    ReassemblyOverflow,
    /// <summary>A partial message evicted because its missing chunks did not arrive within the reassembly timeout.</summary>
    ReassemblyTimeout,
    /// <summary>A chunk already received, or a chunk of a message already completed.</summary>
    Duplicate,
    /// <summary>Raft message not addressed to this node, or whose From disagrees with the datagram's sender.</summary>
    Misaddressed,
    /// <summary>Outgoing message to a node with no known address.</summary>
    UnknownPeer,
    /// <summary>Discarded by fault injection (drop rate, partition, suspend).</summary>
    FaultInjected,
}
