using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>Where one segment file's valid records end.</summary>
internal sealed class SegmentScan
{
    public required ulong Seq { get; init; }
    public required string Path { get; init; }
    public required SegmentHeader Header { get; init; }

    /// <summary>Bytes up to the end of the last valid record; appends continue here.</summary>
    public required long ValidLength { get; init; }

    /// <summary>Set when a torn record was found after <see cref="ValidLength"/> and must be cut away.</summary>
    public string? TornTail { get; init; }
}

/// <summary>
/// Reads segment files and tells a torn tail (the unsynced end of the last segment, which may be cut away) from
/// damage (which must stop the node).
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
            ReadOnlySpan<byte> rest = data[pos..];
            string? problem;
            if (!WalFormat.TryReadHeader(rest, out uint crc, out uint payloadLength, out byte type))
            {
                if (isLast && pos > 0 && !rest.ContainsAnyExcept((byte)0))
                {
                    break; // end of the preallocated space (sealed segments are cut to their records)
                }
                problem = $"incomplete record header ({rest.Length} bytes)";
            }
            else if (crc == 0 && payloadLength == 0 && type == 0)
            {
                if (isLast && pos > 0 && !rest.ContainsAnyExcept((byte)0))
                {
                    break; // never-written (preallocated) space; sealed segments are cut to their records
                }
                problem = "zero bytes where a record should start";
            }
            else if (payloadLength > WalFormat.MaxPayload)
            {
                // No writer produces this, and a torn write leaves zeros or old bytes, not a huge length.
                throw new WalCorruptionException(path, pos, $"impossible record length {payloadLength}");
            }
            else if (payloadLength > rest.Length - WalFormat.HeaderSize)
            {
                problem = $"record of {payloadLength} payload bytes runs past the end of the file";
            }
            else if (WalFormat.ComputeCrc(rest, (int)payloadLength) != crc)
            {
                problem = "checksum mismatch";
            }
            else
            {
                // The checksum holds, so these are the bytes as written: anything unexpected is a format error.
                ReadOnlySpan<byte> payload = rest.Slice(WalFormat.HeaderSize, (int)payloadLength);
                if (!WalFormat.PlausiblePayload(type, payloadLength))
                {
                    throw new WalCorruptionException(path, pos, $"record type {type} with a {payloadLength}-byte payload is not valid");
                }
                if ((pos == 0) != (type == (byte)RecordType.SegmentHeader))
                {
                    throw new WalCorruptionException(path, pos, pos == 0
                        ? "segment does not start with a segment header"
                        : "segment header in the middle of a segment");
                }
                switch ((RecordType)type)
                {
                    case RecordType.SegmentHeader:
                        SegmentHeader h = WalFormat.ReadSegmentHeader(payload)
                            ?? throw new WalCorruptionException(path, pos, "unsupported WAL format version");
                        if (h.Seq != seq)
                        {
                            throw new WalCorruptionException(path, pos, $"segment header says sequence {h.Seq} but the file name says {seq}");
                        }
                        header = h;
                        replay.BeginSegment(path, h, isLast);
                        break;
                    case RecordType.Entry:
                        replay.OnEntry(path, pos, payload);
                        break;
                    case RecordType.HardState:
                        replay.OnHardState(WalFormat.ReadHardState(payload));
                        break;
                }
                pos += WalFormat.HeaderSize + (int)payloadLength;
                continue;
            }

            // An invalid record: only a torn write at the very end of the log may be dropped.
            if (pos == 0)
            {
                throw new WalCorruptionException(path, pos, problem + " in the segment header, which is made durable before the segment is named");
            }
            if (!isLast)
            {
                throw new WalCorruptionException(path, pos, problem + " in a segment that is not the last one, so it cannot be a torn write");
            }
            int next = FindValidRecord(data, pos + 1);
            if (next >= 0)
            {
                throw new WalCorruptionException(path, pos, problem + $", but a valid record follows at offset {next}");
            }
            torn = $"torn write at the end of the log: '{path}' cut at offset {pos} ({problem}); unsynced data only";
            break;
        }
        if (header is null)
        {
            throw new WalCorruptionException(path, 0, "empty segment file (no segment header)");
        }
        replay.EndSegment(path, pos);
        return new SegmentScan { Seq = seq, Path = path, Header = header.Value, ValidLength = pos, TornTail = torn };
    }

    /// <summary>
    /// First offset at or after <paramref name="from"/> where a complete record with a good checksum starts, or -1.
    /// Decides whether a bad record is the torn end of the log or damage in its middle.
    /// </summary>
    internal static int FindValidRecord(ReadOnlySpan<byte> data, int from)
    {
        for (int p = from; p <= data.Length - WalFormat.HeaderSize; p++)
        {
            byte type = data[p + 8];
            if (type is 0 or > (byte)RecordType.SegmentHeader)
            {
                continue; // cheap filter: most bytes (and all zeros) fail here
            }
            WalFormat.TryReadHeader(data[p..], out uint crc, out uint payloadLength, out _);
            if (!WalFormat.PlausiblePayload(type, payloadLength) || payloadLength > data.Length - p - WalFormat.HeaderSize)
            {
                continue;
            }
            if (WalFormat.ComputeCrc(data[p..], (int)payloadLength) == crc)
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

/// <summary>Outcome of replaying the segments on top of a snapshot.</summary>
internal sealed class ReplayResult
{
    public required HardState HardState { get; init; }
    public required List<Entry> Entries { get; init; }

    /// <summary>Index and term of the last record as the writer saw it (may differ from the logical end when <see cref="NeedsReset"/>).</summary>
    public required ulong RawLastIndex { get; init; }
    public required ulong RawLastTerm { get; init; }

    /// <summary>
    /// The log on disk does not end at the snapshot point although no entry follows it (a crash between saving a
    /// snapshot and resetting the log): a segment starting at the snapshot must be written before new appends.
    /// </summary>
    public required bool NeedsReset { get; init; }

    /// <summary>Offsets of the entries in the last segment.</summary>
    public required PositionIndex Positions { get; init; }
    public required List<string> Warnings { get; init; }
}

/// <summary>
/// Rebuilds the log from segment records, streamed in file order, with etcd's WAL semantics: an entry whose index
/// is not past the end of the log truncates the log there first; entries covered by the snapshot are skipped
/// (and never materialised, so recovery memory is the live log only).
/// </summary>
internal sealed class WalReplay
{
    private readonly ulong _snapIndex, _snapTerm;
    private readonly string _unusableSnapshots;   // appended to errors about missing history
    private readonly List<Entry> _entries = [];  // the log after the snapshot: indexes _snapIndex+1, _snapIndex+2, ...
    private readonly PositionIndex _positions = new();
    private HardState _hs;
    private ulong _last, _lastTerm;
    private ulong? _termAtSnap;                  // term of the log's own entry at _snapIndex, if the replay saw it
    private bool _inLast;
    private string? _prevPath;                   // previous segment and the end of its valid records
    private long _prevEnd;

    public WalReplay(ulong snapshotIndex, ulong snapshotTerm, string unusableSnapshotsNote)
    {
        _snapIndex = snapshotIndex;
        _snapTerm = snapshotTerm;
        _unusableSnapshots = unusableSnapshotsNote;
        _last = snapshotIndex;
        _lastTerm = snapshotTerm;
    }

    public void BeginSegment(string path, SegmentHeader h, bool isLast)
    {
        if (_prevPath is null)
        {
            if (h.LastIndex > _snapIndex)
            {
                throw new StorageRecoveryException(
                    $"the write-ahead log starts after index {h.LastIndex} ('{path}') but the newest usable snapshot " +
                    $"ends at index {_snapIndex}{_unusableSnapshots}: entries {_snapIndex + 1}..{h.LastIndex} are gone");
            }
        }
        else if (h.LastIndex > _last && h.LastIndex > _snapIndex)
        {
            if (_unusableSnapshots.Length > 0)
            {
                throw new StorageRecoveryException(
                    $"'{path}' continues the log from index {h.LastIndex}, which needs a snapshot newer than index {_snapIndex}{_unusableSnapshots}");
            }
            throw new WalCorruptionException(_prevPath, _prevEnd,
                $"the segment ends at log index {_last} but the next segment '{path}' starts after index {h.LastIndex}: entries are missing");
        }
        // A header below the current end truncates the log to it (a snapshot reset or compaction copied what follows).
        Truncate(h.LastIndex + 1);
        _last = h.LastIndex;
        _lastTerm = h.LastTerm;
        if (h.LastIndex == _snapIndex) _termAtSnap = h.LastTerm;
        else if (h.LastIndex < _snapIndex) _termAtSnap = null;
        _hs = h.HardState;
        _inLast = isLast;
        if (isLast) _positions.Reset(h.LastIndex + 1);
    }

    public void OnHardState(HardState hs) => _hs = hs;

    public void OnEntry(string path, long offset, ReadOnlySpan<byte> payload)
    {
        WalFormat.ReadEntryKey(payload, out ulong index, out ulong term);
        if (index == 0)
        {
            throw new WalCorruptionException(path, offset, "entry with index 0");
        }
        if (index > _last + 1)
        {
            throw new WalCorruptionException(path, offset, $"entry {index} does not follow the last log index {_last}: entries are missing");
        }
        if (index <= _last)
        {
            Truncate(index); // the core replaced its log from here on (conflict)
            if (index <= _snapIndex) _termAtSnap = null;
        }
        _last = index;
        _lastTerm = term;
        if (index == _snapIndex) _termAtSnap = term;
        if (index > _snapIndex) _entries.Add(WalFormat.ReadEntry(payload));
        if (_inLast) _positions.Record(index, offset);
    }

    public void EndSegment(string path, long validLength)
    {
        _prevPath = path;
        _prevEnd = validLength;
    }

    public ReplayResult Finish()
    {
        var warnings = new List<string>();
        if (_snapIndex > 0 && _termAtSnap is { } t && t != _snapTerm && _entries.Count > 0)
        {
            // The snapshot was saved but the node stopped before the log reset that follows it: the log's entry at the
            // snapshot index has another term, so what follows it is not part of the committed log (paper Fig. 13 step 7).
            warnings.Add($"log entries {_entries[0].Index}..{_entries[^1].Index} conflict with snapshot {_snapIndex} (term {t} at that index, " +
                $"snapshot term {_snapTerm}) and were discarded");
            _entries.Clear();
        }
        ulong end = _entries.Count > 0 ? _entries[^1].Index : _snapIndex;
        if (_hs.Commit > end)
        {
            throw new StorageRecoveryException(
                $"the persisted commit index {_hs.Commit} is beyond the recovered log, which ends at index {end}{_unusableSnapshots}: committed entries are missing");
        }
        return new ReplayResult
        {
            HardState = _hs,
            Entries = _entries,
            RawLastIndex = _last,
            RawLastTerm = _lastTerm,
            NeedsReset = _entries.Count == 0 && (_last != _snapIndex || _lastTerm != _snapTerm),
            Positions = _positions,
            Warnings = warnings,
        };
    }

    /// <summary>Removes entries with index &gt;= <paramref name="from"/>.</summary>
    private void Truncate(ulong from)
    {
        if (_entries.Count == 0 || from > _entries[^1].Index)
        {
            return;
        }
        int keep = from <= _entries[0].Index ? 0 : (int)(from - _entries[0].Index);
        _entries.RemoveRange(keep, _entries.Count - keep);
    }
}
