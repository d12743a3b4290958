namespace RaftPS.Node.Storage;

/// <summary>
/// Reads segment files and tells a maybe-unsynced tail of the last segment (which is cut away) from damage in bytes
/// that were durable (which must stop the node); the rule and why it is sound are in <see cref="WalFormat"/>.
/// </summary>
internal static class SegmentScanner
{
    /// <summary>Validates one segment and feeds its records, in order, to <paramref name="replay"/>.</summary>
    /// <param name="buffer">Reused between segments so recovery allocates one read buffer.</param>
    public static SegmentScan Scan(string path, ulong seq, bool isLast, ref byte[] buffer, WalReplay replay)
    {
        int length = ReadWhole(path, ref buffer);
        ReadOnlySpan<byte> data = buffer.AsSpan(0, length);
        SegmentHeader? header = null;
        string? torn = null;
        int pos = 0;
        while (pos < data.Length)
        {
            string? problem = CheckRecord(path, data, pos, isLast, out byte type, out int payloadLength);
            if (problem is null && payloadLength < 0)
            {
                break; // never-written (preallocated) space after the last record
            }
            if (problem is not null)
            {
                torn = ClassifyDamage(path, data, pos, isLast, header, problem);
                break;
            }
            // The checksum holds, so these are the bytes as written: anything unexpected is a format error.
            ReadOnlySpan<byte> payload = data.Slice(pos + WalFormat.HeaderSize, payloadLength);
            if (type == (byte)RecordType.SegmentHeader)
            {
                header = ReadHeader(path, seq, pos, payload);
                replay.BeginSegment(path, header.Value, isLast);
            }
            else
            {
                Dispatch(path, pos, type, payload, replay);
            }
            pos += WalFormat.HeaderSize + payloadLength;
        }
        if (header is null)
        {
            throw new WalCorruptionException(path, 0, "empty segment file (no segment header)");
        }
        replay.EndSegment(path, pos);
        return new SegmentScan { Seq = seq, Path = path, Header = header.Value, ValidLength = pos, TornTail = torn };
    }

    /// <summary>
    /// Checks the record at <paramref name="pos"/>: null with the record's type and payload length if it is whole and
    /// its checksum holds; null with a payload length of -1 if only never-written zeros follow the last record; else
    /// what is wrong with it. Format errors in a record whose checksum holds throw at once.
    /// </summary>
    private static string? CheckRecord(string path, ReadOnlySpan<byte> data, int pos, bool isLast, out byte type, out int payloadLength)
    {
        ReadOnlySpan<byte> rest = data[pos..];
        payloadLength = 0;
        if (isLast && pos > 0 && !rest.ContainsAnyExcept((byte)0))
        {
            // The end of the preallocated space; sealed segments are cut to their records, so this is only the last.
            type = 0;
            payloadLength = -1;
            return null;
        }
        if (!WalFormat.TryReadHeader(rest, out uint crc, out uint length, out type))
        {
            return $"incomplete record header ({rest.Length} bytes)";
        }
        if (crc == 0 && length == 0 && type == 0)
        {
            return "zero bytes where a record should start";
        }
        if (length > WalFormat.MaxPayload)
        {
            return $"impossible record length {length}";
        }
        if (length > rest.Length - WalFormat.HeaderSize)
        {
            return $"record of {length} payload bytes runs past the end of the file";
        }
        if (WalFormat.ComputeCrc(rest, (int)length) != crc)
        {
            return "checksum mismatch";
        }
        if (!WalFormat.PlausiblePayload(type, length))
        {
            throw new WalCorruptionException(path, pos, $"record type {type} with a {length}-byte payload is not valid");
        }
        if ((pos == 0) != (type == (byte)RecordType.SegmentHeader))
        {
            throw new WalCorruptionException(path, pos, pos == 0
                ? "segment does not start with a segment header"
                : "segment header in the middle of a segment");
        }
        payloadLength = (int)length;
        return null;
    }

    private static SegmentHeader ReadHeader(string path, ulong seq, int pos, ReadOnlySpan<byte> payload)
    {
        SegmentHeader h = WalFormat.ReadSegmentHeader(payload)
            ?? throw new WalCorruptionException(path, pos, "unsupported WAL format version");
        if (h.Seq != seq)
        {
            throw new WalCorruptionException(path, pos, $"segment header says sequence {h.Seq} but the file name says {seq}");
        }
        return h;
    }

    private static void Dispatch(string path, int pos, byte type, ReadOnlySpan<byte> payload, WalReplay replay)
    {
        switch ((RecordType)type)
        {
            case RecordType.Entry:
                replay.OnEntry(path, pos, payload);
                break;
            case RecordType.HardState:
                replay.OnHardState(WalFormat.ReadHardState(payload));
                break;
            case RecordType.SyncMark:
                break; // only consulted when a damaged record needs judging
        }
    }

    /// <summary>
    /// Decides what an invalid record at <paramref name="pos"/> is: damage in durable bytes (throws) or the start of a
    /// maybe-unsynced tail, which is cut away (returns the warning that says so).
    /// </summary>
    private static string ClassifyDamage(string path, ReadOnlySpan<byte> data, int pos, bool isLast, SegmentHeader? header, string problem)
    {
        if (pos == 0 || header is null)
        {
            throw new WalCorruptionException(path, pos, problem + " in the segment header, which is made durable before the segment is named");
        }
        if (!isLast)
        {
            throw new WalCorruptionException(path, pos, problem + " in a segment that is not the last one, which was made durable before the next one was named");
        }
        int mark = FindSyncMark(data, pos + 1, header.Value.Salt);
        if (mark >= 0)
        {
            throw new WalCorruptionException(path, pos, problem + $" in bytes that were durable (the sync mark at offset {mark} vouches for them)");
        }
        return $"torn write at the end of the log: '{path}' cut at offset {pos} ({problem}); no sync mark vouches for these bytes, so they were never acknowledged";
    }

    /// <summary>
    /// First offset at or after <paramref name="from"/> where a whole sync mark of the segment with
    /// <paramref name="salt"/> stands at the offset it names, or -1.
    /// </summary>
    internal static int FindSyncMark(ReadOnlySpan<byte> data, int from, ulong salt)
    {
        for (int p = from; p <= data.Length - WalFormat.SyncMarkRecordSize; p++)
        {
            if (data[p + 8] != (byte)RecordType.SyncMark || data[p + 4] != WalFormat.SyncMarkSize)
            {
                continue; // cheap filter: most bytes (and all zeros) fail here
            }
            WalFormat.TryReadHeader(data[p..], out uint crc, out uint payloadLength, out _);
            if (payloadLength == WalFormat.SyncMarkSize
                && WalFormat.ComputeCrc(data[p..], WalFormat.SyncMarkSize) == crc
                && WalFormat.SyncMarkVouches(data.Slice(p + WalFormat.HeaderSize, WalFormat.SyncMarkSize), salt, p))
            {
                return p;
            }
        }
        return -1;
    }

    private static int ReadWhole(string path, ref byte[] buffer)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = RandomAccess.GetLength(handle);
        if (length > Array.MaxLength)
        {
            throw new WalCorruptionException(path, 0, $"segment file of {length} bytes is larger than any segment this WAL writes");
        }
        if (buffer.Length < length)
        {
            buffer = new byte[length];
        }
        int read = 0;
        while (read < length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(read, (int)length - read), read);
            if (n <= 0) break;
            read += n;
        }
        return read;
    }
}
