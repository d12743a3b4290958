using System.Buffers.Binary;
using System.Globalization;
using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>
/// On-disk layout of a WAL record (little endian):
/// <c>crc32c u32 | payload length u32 | type u8 | payload</c>, the CRC covering length, type and payload.
/// Payloads: entry = term u64, index u64, entry type u8, data; hard state = term, vote, commit (u64 each);
/// segment header = format version u32, seq u64, last index u64, last term u64, term, vote, commit, salt u64
/// (format 1 has no salt); sync mark = salt u64, offset u64 (its own offset in the segment).
/// <para>
/// <b>Power loss: telling synced bytes from a maybe-unsynced tail.</b> Records are appended and group-committed by one
/// data sync; nothing is acknowledged before its sync returns. A power loss can therefore only damage bytes written
/// since the last completed sync, and it may damage them in any pattern: the device may persist any subset of those
/// pages, in any order, a page possibly torn at sector granularity (zeros or old bytes, then a valid record). We
/// assume what etcd and SQLite assume: a sector is written whole or not at all, and bytes that were already durable
/// are not disturbed by writes after them.
/// </para>
/// <para>
/// The first record the writer appends after each sync is a <see cref="RecordType.SyncMark"/> naming its segment's
/// salt and its own offset. It says "every byte of this segment before me was durable when I was written". It rides in
/// the same write as the batch it opens, so it costs no extra sync, and it is true wherever and whenever the device
/// persists it, because it only speaks of bytes synced before it existed. The reader reads records in order; at the
/// first one that does not parse (bad checksum, zeros, an impossible length, a record running past the file end) it
/// looks for a sync mark further on with this segment's salt at the offset the mark names:
/// </para>
/// <list type="bullet">
/// <item>found: the damage lies in bytes that were durable, so it is real damage: <see cref="WalCorruptionException"/>,
/// the node stops and the files stay as they are;</item>
/// <item>not found: the damage lies in the tail that was never shown durable (the unacknowledged batch in flight when the
/// power failed); it is cut away with everything after it, even valid records (pages persisted out of order), and the
/// cut is synced before anything new is written, so stale records beyond it can never vouch for later bytes.</item>
/// </list>
/// <para>
/// Sealed segments (every segment but the last) and segment headers are synced before the next file is named, so damage
/// there is always corruption. The salt (random per segment) keeps a mark that was carried into a new segment with the
/// log tail, or mark-like bytes inside an entry's data, from vouching for bytes it does not belong to. On open the
/// storage syncs the last segment before appending, so the records kept from an unsynced tail are durable before the
/// next mark vouches for them.
/// </para>
/// <para>
/// The limit, shared by any scheme without a second sync per commit: the batch synced last before the power loss is
/// vouched for only by the next batch's mark (or by the mark a clean close writes). Damage inside exactly that batch
/// that the power loss did not cause (bit rot in bytes just synced) cannot be told from a torn write, and is cut as one.
/// </para>
/// </summary>
internal static class WalFormat
{
    public const int HeaderSize = 9;
    public const int EntryFixedSize = 17;
    public const int HardStateSize = 24;
    public const int SegmentHeaderSize = SegmentHeaderSizeV1 + 8;
    public const int SyncMarkSize = 16;
    public const int SyncMarkRecordSize = HeaderSize + SyncMarkSize;
    public const uint FormatVersion = 2;

    /// <summary>Format 1 segment headers lack the salt; they are still read.</summary>
    private const int SegmentHeaderSizeV1 = 4 + 8 + 8 + 8 + HardStateSize;

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
        BinaryPrimitives.WriteUInt64LittleEndian(p[SegmentHeaderSizeV1..], header.Salt);
        Seal(record, RecordType.SegmentHeader, SegmentHeaderSize);
    }

    /// <summary>A sync mark for the segment with <paramref name="salt"/>, to be written at <paramref name="offset"/>.</summary>
    public static void WriteSyncMark(Span<byte> record, ulong salt, long offset)
    {
        Span<byte> p = record.Slice(HeaderSize, SyncMarkSize);
        BinaryPrimitives.WriteUInt64LittleEndian(p, salt);
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], (ulong)offset);
        Seal(record, RecordType.SyncMark, SyncMarkSize);
    }

    /// <summary>Whether a sync mark payload belongs to the segment with <paramref name="salt"/> and sits at <paramref name="offset"/>.</summary>
    public static bool SyncMarkVouches(ReadOnlySpan<byte> payload, ulong salt, long offset) =>
        BinaryPrimitives.ReadUInt64LittleEndian(payload) == salt
        && BinaryPrimitives.ReadUInt64LittleEndian(payload[8..]) == (ulong)offset;

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
        (byte)RecordType.SegmentHeader => payloadLength is SegmentHeaderSize or SegmentHeaderSizeV1,
        (byte)RecordType.SyncMark => payloadLength == SyncMarkSize,
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

    /// <summary>Parses a segment header payload; null if its format version is unknown or does not fit its size.</summary>
    public static SegmentHeader? ReadSegmentHeader(ReadOnlySpan<byte> p)
    {
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(p);
        if (!(version == FormatVersion && p.Length == SegmentHeaderSize) && !(version == 1 && p.Length == SegmentHeaderSizeV1))
        {
            return null;
        }
        return new SegmentHeader(
            BinaryPrimitives.ReadUInt64LittleEndian(p[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[12..]),
            BinaryPrimitives.ReadUInt64LittleEndian(p[20..]),
            ReadHardState(p[28..]),
            version == 1 ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(p[SegmentHeaderSizeV1..]));
    }
}
