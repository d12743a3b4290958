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
    /// <summary>Id of the key that sealed the datagram (0 = plaintext).</summary>
    public uint KeyId { get; init; }
    /// <summary>Nonce part 1: the sender's random epoch.</summary>
    public ulong Epoch { get; init; }
    /// <summary>Nonce part 2: the sender's counter within the epoch.</summary>
    public uint Counter { get; init; }
    /// <summary>Role of the key that verified the datagram; <see cref="CredentialRole.None"/> for plaintext. Set by parsing only.</summary>
    public CredentialRole Role { get; init; }

    public bool IsSealed => (Flags & DatagramFlags.Sealed) != 0;
    public bool IsChunked => ChunkCount > 1;
}
