namespace RaftPS.Node.SnapshotStreaming;

/// <summary>What a follower says about a snapshot stream.</summary>
public enum SnapshotAckStatus : byte
{
    /// <summary>Still receiving: <see cref="SnapshotAck.AckedOffset"/> bytes from the start are on disk.</summary>
    Receiving = 1,
    /// <summary>Every byte arrived and the checksum matched; the snapshot was handed to the follower's event loop.</summary>
    Delivered = 2,
    /// <summary>Every byte arrived but the checksum did not match: the stream was discarded, start a new one.</summary>
    Corrupt = 3,
    /// <summary>The follower will not take this stream (it holds a newer one, it is too large, its disk failed).</summary>
    Refused = 4,
}

/// <summary>
/// A <see cref="RaftPS.Protocol.Wire.MessageKind.SnapshotAck"/> datagram: cumulative acknowledgement plus the window the
/// follower grants (bytes the leader may have in flight beyond <see cref="AckedOffset"/>).
/// </summary>
public readonly record struct SnapshotAck(ulong TransferId, long AckedOffset, int Credit, SnapshotAckStatus Status);
