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
    /// <summary>Sealed datagram under a key we do not hold, or whose tag does not verify, or whose key's role cannot carry its kind.</summary>
    BadAuth,
    /// <summary>The datagram's credential does not fit what it carries: a plaintext (or non-peer) Raft message to a node holding a peer key.</summary>
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
    /// <summary>A sealed datagram seen before (same sender, epoch and counter), or too old for the replay window.</summary>
    Replayed,
    /// <summary>A peer message from an address other than the sender's configured one.</summary>
    WrongSource,
    /// <summary>A peer message whose fields no correct peer sends (see PeerMessageValidator); never reaches the core.</summary>
    InvalidPeerMessage,
    /// <summary>A client request without a credential this node accepts (answered with a short "unauthorized" when that is no larger than the request).</summary>
    Unauthenticated,
    /// <summary>A client request refused because the node's ingress queue is full (answered "busy").</summary>
    Busy,
}
