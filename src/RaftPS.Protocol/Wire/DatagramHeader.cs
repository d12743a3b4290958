namespace RaftPS.Protocol.Wire;

/// <summary>The fixed header every datagram starts with (see <see cref="Datagram"/> for the byte layout).</summary>
public readonly record struct DatagramHeader(
    MessageKind Kind,
    DatagramFlags Flags,
    ulong ClusterId,
    ulong SenderId,
    ulong MessageId,
    ushort ChunkIndex,
    ushort ChunkCount,
    int PayloadLength)
{
    public bool IsAuthenticated => (Flags & DatagramFlags.Authenticated) != 0;
    public bool IsChunked => ChunkCount > 1;
}
