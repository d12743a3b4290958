using System.Buffers;
using System.Buffers.Binary;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// Payloads of the snapshot stream datagrams, little-endian, fixed size so a chunk's data starts at a known offset:
/// <code>
/// SnapshotChunk: u8 version | u64 transfer id | u64 message term | u64 snapshot index | u64 snapshot term
///                | u64 total length | u32 envelope length | u32 checksum | u32 chunk size | u64 offset | data (rest)
/// SnapshotAck:   u8 version | u64 transfer id | u64 acked offset | u32 credit | u8 status
/// </code>
/// Decoding checks every field against the others (offset on a chunk boundary, data length exactly what the offset
/// implies), so a chunk that passes can be written to disk without further checks. Throws only
/// <see cref="WireFormatException"/>.
/// </summary>
public static class SnapshotStreamCodec
{
    public const byte Version = 1;
    public const int ChunkHeaderSize = 1 + 8 * 4 + 8 + 4 * 3 + 8;
    public const int AckSize = 1 + 8 + 8 + 4 + 1;
    /// <summary>The follower hands the data to the core as one byte array, so a stream cannot be longer than one array plus its envelope.</summary>
    public const long MaxStreamLength = (long)int.MaxValue - 1024;

    public static void WriteChunk(WireWriter w, in SnapshotChunk c, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (data.Length != c.DataLength) throw new ArgumentException($"chunk at {c.Offset} must carry {c.DataLength} bytes, not {data.Length}", nameof(data));
        var span = w.GetSpan(ChunkHeaderSize);
        WriteChunkHeader(span, c);
        w.Advance(ChunkHeaderSize);
        w.WriteRaw(data);
    }

    /// <summary>Writes the header, then lets <paramref name="fill"/> put the data straight into the writer's buffer (no intermediate copy).</summary>
    public static void WriteChunk(WireWriter w, in SnapshotChunk c, SpanAction<byte, long> fill)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(fill);
        int n = c.DataLength;
        var span = w.GetSpan(ChunkHeaderSize + n);
        WriteChunkHeader(span, c);
        fill(span.Slice(ChunkHeaderSize, n), c.Offset);
        w.Advance(ChunkHeaderSize + n);
    }

    internal static void WriteChunkHeader(Span<byte> s, in SnapshotChunk c)
    {
        s[0] = Version;
        BinaryPrimitives.WriteUInt64LittleEndian(s[1..], c.TransferId);
        BinaryPrimitives.WriteUInt64LittleEndian(s[9..], c.MessageTerm);
        BinaryPrimitives.WriteUInt64LittleEndian(s[17..], c.SnapshotIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(s[25..], c.SnapshotTerm);
        BinaryPrimitives.WriteInt64LittleEndian(s[33..], c.TotalLength);
        BinaryPrimitives.WriteInt32LittleEndian(s[41..], c.EnvelopeLength);
        BinaryPrimitives.WriteUInt32LittleEndian(s[45..], c.Checksum);
        BinaryPrimitives.WriteInt32LittleEndian(s[49..], c.ChunkSize);
        BinaryPrimitives.WriteInt64LittleEndian(s[53..], c.Offset);
    }

    public static SnapshotChunk ReadChunk(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> data)
    {
        if (payload.Length < ChunkHeaderSize) throw new WireFormatException($"snapshot chunk of {payload.Length} bytes is shorter than its header");
        if (payload[0] != Version) throw new WireFormatException($"unknown snapshot stream version {payload[0]}");
        var c = new SnapshotChunk(
            BinaryPrimitives.ReadUInt64LittleEndian(payload[1..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[9..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[17..]),
            BinaryPrimitives.ReadUInt64LittleEndian(payload[25..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[33..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[41..]),
            BinaryPrimitives.ReadUInt32LittleEndian(payload[45..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[49..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[53..]));
        if (c.SnapshotIndex == 0) throw new WireFormatException("snapshot chunk for index 0");
        if (c.TotalLength <= 0 || c.TotalLength > MaxStreamLength) throw new WireFormatException($"snapshot stream length {c.TotalLength} out of range");
        if (c.EnvelopeLength <= 0 || c.EnvelopeLength > c.TotalLength) throw new WireFormatException($"envelope length {c.EnvelopeLength} out of range");
        if (c.ChunkSize <= 0) throw new WireFormatException($"chunk size {c.ChunkSize} out of range");
        if (c.Offset < 0 || c.Offset >= c.TotalLength || c.Offset % c.ChunkSize != 0) throw new WireFormatException($"chunk offset {c.Offset} is not a chunk boundary inside the stream");
        data = payload[ChunkHeaderSize..];
        if (data.Length != c.DataLength) throw new WireFormatException($"chunk at {c.Offset} carries {data.Length} bytes, expected {c.DataLength}");
        return c;
    }

    public static void WriteAck(WireWriter w, in SnapshotAck a)
    {
        ArgumentNullException.ThrowIfNull(w);
        var s = w.GetSpan(AckSize);
        s[0] = Version;
        BinaryPrimitives.WriteUInt64LittleEndian(s[1..], a.TransferId);
        BinaryPrimitives.WriteInt64LittleEndian(s[9..], a.AckedOffset);
        BinaryPrimitives.WriteInt32LittleEndian(s[17..], a.Credit);
        s[21] = (byte)a.Status;
        w.Advance(AckSize);
    }

    public static SnapshotAck ReadAck(ReadOnlySpan<byte> payload)
    {
        if (payload.Length != AckSize) throw new WireFormatException($"snapshot ack of {payload.Length} bytes, expected {AckSize}");
        if (payload[0] != Version) throw new WireFormatException($"unknown snapshot stream version {payload[0]}");
        var a = new SnapshotAck(
            BinaryPrimitives.ReadUInt64LittleEndian(payload[1..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[9..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[17..]),
            (SnapshotAckStatus)payload[21]);
        if (a.AckedOffset < 0 || a.Credit < 0) throw new WireFormatException("negative offset or credit in snapshot ack");
        if (!Enum.IsDefined(a.Status)) throw new WireFormatException($"unknown snapshot ack status {payload[21]}");
        return a;
    }
}
