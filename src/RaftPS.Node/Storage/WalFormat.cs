using System.Buffers.Binary;
using System.Globalization;
using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

internal enum RecordType : byte
{
    // 0 is never used so that a zero-filled (preallocated, never written) region cannot parse as a record.
    Entry = 1,
    HardState = 2,
    SegmentHeader = 3,
}

/// <summary>First record of every segment: lets replay start at this segment without any earlier one.</summary>
/// <param name="Seq">Sequence number; must match the file name (catches renamed or copied files).</param>
/// <param name="LastIndex">Index of the last log entry when the segment was started. A value below the previous
/// segment's end truncates the log to it (used when a snapshot resets or compacts the log).</param>
/// <param name="LastTerm">Term of the entry at <paramref name="LastIndex"/>.</param>
/// <param name="HardState">Hard state in force when the segment was started.</param>
internal readonly record struct SegmentHeader(ulong Seq, ulong LastIndex, ulong LastTerm, HardState HardState);

/// <summary>
/// On-disk layout of a WAL record (little endian):
/// <c>crc32c u32 | payload length u32 | type u8 | payload</c>, the CRC covering length, type and payload.
/// Payloads: entry = term u64, index u64, entry type u8, data; hard state = term, vote, commit (u64 each);
/// segment header = format version u32, seq u64, last index u64, last term u64, term, vote, commit.
/// </summary>
internal static class WalFormat
{
    public const int HeaderSize = 9;
    public const int EntryFixedSize = 17;
    public const int HardStateSize = 24;
    public const int SegmentHeaderSize = 4 + 8 + 8 + 8 + HardStateSize;
    public const uint FormatVersion = 1;

    /// <summary>Largest payload accepted; a length field above this is damage, not a record.</summary>
    public const int MaxPayload = 128 << 20;

    public const string SegmentPrefix = "wal-";
    public const string SegmentSuffix = ".log";

    public static string SegmentFileName(ulong seq) => $"{SegmentPrefix}{seq:D16}{SegmentSuffix}";

    public static bool TryParseSegmentName(string fileName, out ulong seq)
    {
        seq = 0;
        return fileName.Length == SegmentPrefix.Length + 16 + SegmentSuffix.Length
            && fileName.StartsWith(SegmentPrefix, StringComparison.Ordinal)
            && fileName.EndsWith(SegmentSuffix, StringComparison.Ordinal)
            && ulong.TryParse(fileName.AsSpan(SegmentPrefix.Length, 16), NumberStyles.None, CultureInfo.InvariantCulture, out seq);
    }

    public static int EntryRecordSize(Entry entry) => HeaderSize + EntryFixedSize + entry.Data.Length;

    public static void WriteEntry(Span<byte> record, Entry entry)
    {
        Span<byte> p = record.Slice(HeaderSize, EntryFixedSize + entry.Data.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(p, entry.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], entry.Index);
        p[16] = (byte)entry.Type;
        entry.Data.CopyTo(p[EntryFixedSize..]);
        Seal(record, RecordType.Entry, p.Length);
    }

    public static void WriteHardState(Span<byte> record, HardState hs)
    {
        WriteHardStatePayload(record.Slice(HeaderSize, HardStateSize), hs);
        Seal(record, RecordType.HardState, HardStateSize);
    }

    public static void WriteSegmentHeader(Span<byte> record, SegmentHeader header)
    {
        Span<byte> p = record.Slice(HeaderSize, SegmentHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(p, FormatVersion);
        BinaryPrimitives.WriteUInt64LittleEndian(p[4..], header.Seq);
        BinaryPrimitives.WriteUInt64LittleEndian(p[12..], header.LastIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(p[20..], header.LastTerm);
        WriteHardStatePayload(p[28..], header.HardState);
        Seal(record, RecordType.SegmentHeader, SegmentHeaderSize);
    }

    private static void WriteHardStatePayload(Span<byte> p, HardState hs)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(p, hs.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], hs.Vote);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], hs.Commit);
    }

    /// <summary>Fills in length, type and CRC once the payload is in place.</summary>
    private static void Seal(Span<byte> record, RecordType type, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)payloadLength);
        record[8] = (byte)type;
        BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record.Slice(4, 5 + payloadLength)));
    }

    /// <summary>Reads a record header; false if fewer than <see cref="HeaderSize"/> bytes remain.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> data, out uint crc, out uint payloadLength, out byte type)
    {
        if (data.Length < HeaderSize)
        {
            crc = payloadLength = 0;
            type = 0;
            return false;
        }
        crc = BinaryPrimitives.ReadUInt32LittleEndian(data);
        payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        type = data[8];
        return true;
    }

    /// <summary>CRC as stored in the record header, computed over length, type and payload.</summary>
    public static uint ComputeCrc(ReadOnlySpan<byte> record, int payloadLength) =>
        Crc32C.Compute(record.Slice(4, 5 + payloadLength));

    /// <summary>Whether a payload of this length is well-formed for its type (checked before trusting a CRC match).</summary>
    public static bool PlausiblePayload(byte type, uint payloadLength) => type switch
    {
        (byte)RecordType.Entry => payloadLength >= EntryFixedSize && payloadLength <= MaxPayload,
        (byte)RecordType.HardState => payloadLength == HardStateSize,
        (byte)RecordType.SegmentHeader => payloadLength == SegmentHeaderSize,
        _ => false,
    };

    /// <summary>Index and term of an entry payload, without copying its data.</summary>
    public static void ReadEntryKey(ReadOnlySpan<byte> payload, out ulong index, out ulong term)
    {
        term = BinaryPrimitives.ReadUInt64LittleEndian(payload);
        index = BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]);
    }

    public static Entry ReadEntry(ReadOnlySpan<byte> payload)
    {
        ulong term = BinaryPrimitives.ReadUInt64LittleEndian(payload);
        ulong index = BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]);
        var type = (EntryType)payload[16];
        ReadOnlySpan<byte> data = payload[EntryFixedSize..];
        return new Entry(term, index, type, data.IsEmpty ? Entry.Empty : data.ToArray());
    }

    public static HardState ReadHardState(ReadOnlySpan<byte> p) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(p),
        BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(p[16..]));

    /// <summary>Parses a segment header payload; null if its format version is unknown.</summary>
    public static SegmentHeader? ReadSegmentHeader(ReadOnlySpan<byte> p)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(p) != FormatVersion)
        {
            return null;
        }
        return new SegmentHeader(
            BinaryPrimitives.ReadUInt64LittleEndian(p[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[12..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[20..]),
            ReadHardState(p[28..]));
    }
}
