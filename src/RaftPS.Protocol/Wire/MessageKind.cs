namespace RaftPS.Protocol.Wire;

/// <summary>What a datagram's payload holds. Stored in the header's kind byte.</summary>
public enum MessageKind : byte
{
    Raft = 1,
    ClientRequest = 2,
    ClientReply = 3,
    /// <summary>
    /// Peer to peer: "you were removed from the cluster" (payload: the index of the committed configuration that removed
    /// the receiver, a varint). A removed server gets no more entries, so it cannot learn its removal from the log;
    /// etcd answers such a server with 410 Gone the same way.
    /// </summary>
    Removed = 4,
    /// <summary>A piece of a snapshot streamed from leader to follower (node-to-node only, never reassembled).</summary>
    SnapshotChunk = 5,
    /// <summary>A follower's cumulative acknowledgement and credit for a snapshot stream.</summary>
    SnapshotAck = 6,
}

/// <summary>Header flag bits. Any bit not defined here makes the datagram malformed (so new flags need a new version).</summary>
[Flags]
public enum DatagramFlags : byte
{
    None = 0,
    /// <summary>The payload is AES-256-GCM ciphertext under the key named in the header, and a 16-byte tag follows it.</summary>
    Sealed = 1,
}
