using System.Buffers.Binary;
using System.Security.Cryptography;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Datagram layout, little-endian:
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
/// 39  payload             payload length
///     auth tag            16, only when flags has Authenticated: HMAC-SHA256(key, header + payload)[..16]
/// </code>
/// </summary>
public static class Datagram
{
    public const int HeaderSize = 39;
    public const int TagSize = 16;
    public const byte Version = 1;
    /// <summary>"RFPS" read as a little-endian u32.</summary>
    public const uint Magic = 'R' | ('F' << 8) | ('P' << 16) | ((uint)'S' << 24);

    private const byte KnownFlags = (byte)DatagramFlags.Authenticated;

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
    }

    /// <summary>Writes the truncated HMAC of <paramref name="authenticated"/> (header + payload) into <paramref name="tag"/>.</summary>
    public static void ComputeTag(ReadOnlySpan<byte> key, ReadOnlySpan<byte> authenticated, Span<byte> tag)
    {
        Span<byte> full = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, authenticated, full);
        full[..TagSize].CopyTo(tag);
    }

    /// <summary>
    /// Validates one datagram: magic, version, kind, flags, cluster id, exact length, authentication and chunk fields,
    /// in that order (cheap checks first; the tag is verified before any field beyond the lengths is trusted).
    /// Never throws; on failure <paramref name="reason"/> says why.
    /// </summary>
    /// <param name="key">The cluster key, or empty when this endpoint has none.</param>
    public static bool TryParse(
        ReadOnlySpan<byte> datagram,
        ulong expectedClusterId,
        ReadOnlySpan<byte> key,
        out DatagramHeader header,
        out ReadOnlySpan<byte> payload,
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
        bool tagged = (flags & (byte)DatagramFlags.Authenticated) != 0;
        int tagSize = tagged ? TagSize : 0;
        // Compare in 64-bit so a hostile length cannot overflow the check.
        if ((long)HeaderSize + payloadLength + tagSize != datagram.Length) { reason = DropReason.Malformed; return false; }

        bool keyed = !key.IsEmpty;
        if (tagged != keyed) { reason = DropReason.AuthMismatch; return false; }
        if (tagged)
        {
            int authenticatedLength = HeaderSize + (int)payloadLength;
            Span<byte> expected = stackalloc byte[TagSize];
            ComputeTag(key, datagram[..authenticatedLength], expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, datagram.Slice(authenticatedLength, TagSize)))
            {
                reason = DropReason.BadAuth;
                return false;
            }
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
            (int)payloadLength);
        payload = datagram.Slice(HeaderSize, (int)payloadLength);
        reason = DropReason.None;
        return true;
    }
}
