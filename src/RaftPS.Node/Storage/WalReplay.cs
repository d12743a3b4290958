using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

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
