namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// The fixed part of a <see cref="RaftPS.Protocol.Wire.MessageKind.SnapshotChunk"/> datagram (layout in
/// <see cref="SnapshotStreamCodec"/>). Every chunk repeats the whole description of its transfer, so a follower can join a
/// transfer at any chunk (after a restart of its receiver, or when the first chunk was lost) and never needs a handshake.
/// </summary>
/// <param name="TransferId">Random per transfer; with the authenticated sender id it names the stream.</param>
/// <param name="MessageTerm">The leader's term when it sent the InstallSnapshot message: a newer term's transfer replaces an older one.</param>
/// <param name="TotalLength">Bytes in the stream: the encoded InstallSnapshot message without data, then the snapshot data.</param>
/// <param name="EnvelopeLength">Bytes of the stream that hold the encoded message (the rest is the snapshot data).</param>
/// <param name="Checksum">CRC-32C of the whole stream, checked by the follower once every byte is on its disk.</param>
/// <param name="ChunkSize">Data bytes per chunk (the last may be shorter); offsets are multiples of it.</param>
/// <param name="Offset">Where this chunk's data goes in the stream.</param>
public readonly record struct SnapshotChunk(
    ulong TransferId,
    ulong MessageTerm,
    ulong SnapshotIndex,
    ulong SnapshotTerm,
    long TotalLength,
    int EnvelopeLength,
    uint Checksum,
    int ChunkSize,
    long Offset)
{
    /// <summary>Number of chunks the stream is cut into.</summary>
    public int ChunkCount => (int)((TotalLength + ChunkSize - 1) / ChunkSize);

    /// <summary>Data bytes the chunk at <see cref="Offset"/> carries.</summary>
    public int DataLength => (int)Math.Min(ChunkSize, TotalLength - Offset);

    /// <summary>Same stream (every field but the offset equal).</summary>
    public bool SameTransfer(in SnapshotChunk other) => this with { Offset = 0 } == other with { Offset = 0 };
}
