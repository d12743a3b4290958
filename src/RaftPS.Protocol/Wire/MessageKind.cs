namespace RaftPS.Protocol.Wire;

/// <summary>What a datagram's payload holds. Stored in the header's kind byte.</summary>
public enum MessageKind : byte
{
    Raft = 1,
    ClientRequest = 2,
    ClientReply = 3,
    /// <summary>A piece of a snapshot streamed from leader to follower (node-to-node only, never reassembled).</summary>
    SnapshotChunk = 4,
    /// <summary>A follower's cumulative acknowledgement and credit for a snapshot stream.</summary>
    SnapshotAck = 5,
}

/// <summary>Header flag bits. Any bit not defined here makes the datagram malformed (so new flags need a new version).</summary>
[Flags]
public enum DatagramFlags : byte
{
    None = 0,
    /// <summary>An HMAC-SHA256 tag (truncated) follows the payload.</summary>
    Authenticated = 1,
}
