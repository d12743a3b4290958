using System.Buffers.Binary;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Datagram layout (version 2), little-endian:
/// <code>
///  0  magic "RFPS"        4
///  4  version             1
///  5  kind                1   (MessageKind)
///  6  flags               1   (DatagramFlags)
///  7  cluster id          8
/// 15  sender id           8   (node id, or client id for client traffic)
/// 23  message id          8   (per sender, identifies the chunks of one message)
/// 31  chunk index         2
/// 33  chunk count         2
/// 35  payload length      4
/// 39  key id              4   (0 when plaintext)
/// 43  nonce              12   (sender epoch 8 + counter 4; zero when plaintext)
/// 55  payload             payload length (AES-256-GCM ciphertext when sealed)
///     tag                16, only when flags has Sealed
/// </code>
/// A sealed datagram authenticates the whole header as associated data, so neither the kind, the sender, nor the chunk
/// fields can be changed without the tag failing. Which key opens it follows from the key id (<see cref="Keyring"/>);
/// its role must fit the kind (<see cref="WireKey"/>).
/// </summary>
public static class Datagram
{
    public const int HeaderSize = 55;
    public const int TagSize = 16;
    public const byte Version = 2;
    /// <summary>"RFPS" read as a little-endian u32.</summary>
    public const uint Magic = 'R' | ('F' << 8) | ('P' << 16) | ((uint)'S' << 24);

    private const int KeyIdOffset = 39;
    private const int NonceOffset = 43;
    private const byte KnownFlags = (byte)DatagramFlags.Sealed;

    public static void WriteHeader(Span<byte> destination, in DatagramHeader h)
    {
        if (destination.Length < HeaderSize) throw new ArgumentException("destination too small for header", nameof(destination));
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = Version;
        destination[5] = (byte)h.Kind;
        destination[6] = (byte)h.Flags;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[7..], h.ClusterId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[15..], h.SenderId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[23..], h.MessageId);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[31..], h.ChunkIndex);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[33..], h.ChunkCount);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[35..], (uint)h.PayloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[KeyIdOffset..], h.KeyId);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[NonceOffset..], h.Epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(NonceOffset + 8)..], h.Counter);
    }

    /// <summary>
    /// Seals a datagram whose header (flags Sealed, key id and nonce filled in) and plaintext payload are already in
    /// <paramref name="datagram"/>: encrypts the payload in place and writes the tag after it.
    /// </summary>
    /// <param name="datagram">Header + payload + room for the tag.</param>
    public static void Seal(WireKey key, MessageKind kind, Span<byte> datagram, int payloadLength)
    {
        key.Seal(kind, datagram.Slice(NonceOffset, NonceSource.Size), datagram[..HeaderSize],
            datagram.Slice(HeaderSize, payloadLength), datagram.Slice(HeaderSize + payloadLength, TagSize));
    }

    /// <summary>
    /// Validates one datagram: magic, version, kind, flags, cluster id, exact length, then (sealed) key lookup and
    /// decryption in place, then chunk fields — cheap checks first; nothing beyond the lengths is trusted before the
    /// tag verifies. Never throws; on failure <paramref name="reason"/> says why and the buffer may be garbled.
    /// A plaintext datagram parses with role <see cref="CredentialRole.None"/>: whether that is acceptable is the caller's call.
    /// </summary>
    /// <param name="keys">The receiver's keys; null or empty when it has none (then sealed datagrams cannot be opened).</param>
    public static bool TryParse(
        Span<byte> datagram,
        ulong expectedClusterId,
        Keyring? keys,
        out DatagramHeader header,
        out Span<byte> payload,
        out DropReason reason)
    {
        header = default;
        payload = default;
        if (datagram.Length < HeaderSize) { reason = datagram.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(datagram) != Magic ? DropReason.BadMagic : DropReason.Malformed; return false; }
        if (BinaryPrimitives.ReadUInt32LittleEndian(datagram) != Magic) { reason = DropReason.BadMagic; return false; }
        if (datagram[4] != Version) { reason = DropReason.UnsupportedVersion; return false; }
        byte kind = datagram[5];
        byte flags = datagram[6];
        if (kind is < (byte)MessageKind.Raft or > (byte)MessageKind.SnapshotAck || (flags & ~KnownFlags) != 0)
        {
            reason = DropReason.Malformed;
            return false;
        }
        ulong cluster = BinaryPrimitives.ReadUInt64LittleEndian(datagram[7..]);
        if (cluster != expectedClusterId) { reason = DropReason.ForeignCluster; return false; }

        uint payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(datagram[35..]);
        bool sealed_ = (flags & (byte)DatagramFlags.Sealed) != 0;
        int tagSize = sealed_ ? TagSize : 0;
        // Compare in 64-bit so a hostile length cannot overflow the check.
        if ((long)HeaderSize + payloadLength + tagSize != datagram.Length) { reason = DropReason.Malformed; return false; }

        uint keyId = BinaryPrimitives.ReadUInt32LittleEndian(datagram[KeyIdOffset..]);
        ulong epoch = BinaryPrimitives.ReadUInt64LittleEndian(datagram[NonceOffset..]);
        uint counter = BinaryPrimitives.ReadUInt32LittleEndian(datagram[(NonceOffset + 8)..]);
        var role = CredentialRole.None;
        if (sealed_)
        {
            var key = keys?.Find(keyId);
            if (key is null) { reason = DropReason.BadAuth; return false; }
            if (!key.TryOpen((MessageKind)kind, datagram.Slice(NonceOffset, NonceSource.Size), datagram[..HeaderSize],
                    datagram.Slice(HeaderSize, (int)payloadLength), datagram.Slice(HeaderSize + (int)payloadLength, TagSize)))
            {
                reason = DropReason.BadAuth;
                return false;
            }
            role = key.Role;
        }
        else if (keyId != 0 || epoch != 0 || counter != 0)
        {
            reason = DropReason.Malformed;
            return false;
        }

        ushort chunkIndex = BinaryPrimitives.ReadUInt16LittleEndian(datagram[31..]);
        ushort chunkCount = BinaryPrimitives.ReadUInt16LittleEndian(datagram[33..]);
        if (chunkCount == 0 || chunkIndex >= chunkCount) { reason = DropReason.Malformed; return false; }

        header = new DatagramHeader(
            (MessageKind)kind,
            (DatagramFlags)flags,
            cluster,
            BinaryPrimitives.ReadUInt64LittleEndian(datagram[15..]),
            BinaryPrimitives.ReadUInt64LittleEndian(datagram[23..]),
            chunkIndex,
            chunkCount,
            (int)payloadLength)
        {
            KeyId = keyId, Epoch = epoch, Counter = counter, Role = role,
        };
        payload = datagram.Slice(HeaderSize, (int)payloadLength);
        reason = DropReason.None;
        return true;
    }
}
