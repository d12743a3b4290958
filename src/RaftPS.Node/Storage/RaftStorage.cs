using System.Buffers;
using Microsoft.Extensions.Logging;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>
/// A node's durable state: a segmented write-ahead log of entries and hard states plus snapshot files.
/// Not thread-safe: it is owned by the node's event loop.
/// </summary>
/// <remarks>
/// Layout of the data directory: <c>wal-&lt;seq:D16&gt;.log</c> segments (see <see cref="WalFormat"/>), each
/// starting with a header that holds the hard state and the log end at that point, so a segment can be replayed
/// without the ones before it; <c>snap-&lt;index:D20&gt;.snap</c> snapshots (see <see cref="SnapshotFile"/>); and a
/// LOCK file held while the storage is open.
/// </remarks>
public sealed class RaftStorage : IDisposable
{
    private const int WriteBufferBytes = 1 << 20;
    private const int SegmentHeaderRecordBytes = WalFormat.HeaderSize + WalFormat.SegmentHeaderSize;
    private const long MinSegmentBytes = 256;

    private readonly string _dir;
    private readonly WalOptions _options;
    private readonly ILogger _logger;
    private readonly FileStream _lock;
    private readonly List<SegmentInfo> _segments = []; // live segments, oldest first; the last one is being written
    private readonly TermRuns _terms = new();
    private PositionIndex _positions = new();
    private SegmentWriter _active = null!;
    private HardState _hardState;
    private ulong _lastIndex;   // end of the log as the records on disk define it (>= snapshot index)
    private ulong _lastTerm;
    private ulong _snapshotIndex;
    private ulong _snapshotTerm;
    private long _sealedBytes;  // bytes in live segments other than the active one
    private bool _dirty;        // records appended since the last data sync
    private Exception? _failure;
    private bool _disposed;

    private sealed class SegmentInfo(ulong seq, string path, ulong headerLastIndex)
    {
        public ulong Seq { get; } = seq;
        public string Path { get; } = path;
        public ulong HeaderLastIndex { get; } = headerLastIndex;
        public long Length { get; set; }
    }

    private RaftStorage(string dir, WalOptions options, ILogger logger, FileStream lockFile)
    {
        _dir = dir;
        _options = options;
        _logger = logger;
        _lock = lockFile;
    }

    private long PreallocateLimit => _options.Preallocate ? _options.SegmentBytes : 0;

    /// <summary>Bytes in live segments (appended, whether or not synced yet); drops after <see cref="SaveSnapshot"/>.</summary>
    public long LogBytes => _sealedBytes + _active.Length;

    /// <summary>Index of the last log entry (the snapshot index if no entry follows it).</summary>
    public ulong LastIndex => _lastIndex;

    public ulong SnapshotIndex => _snapshotIndex;

    /// <summary>The most recently appended hard state.</summary>
    public HardState HardState => _hardState;

    /// <summary>Number of live segment files.</summary>
    public int SegmentCount => _segments.Count;

    public string Directory => _dir;

    /// <summary>Data syncs issued by <see cref="Sync"/>; lets tests check group commit.</summary>
    internal int SyncCount { get; private set; }

    /// <summary>
    /// Opens (creating if needed) the data directory and recovers: the newest valid snapshot, then the log after it.
    /// </summary>
    /// <exception cref="WalCorruptionException">A record in the middle of the log is damaged.</exception>
    /// <exception cref="StorageRecoveryException">The snapshot and log together do not form a complete history.</exception>
    /// <exception cref="IOException">The directory is in use by another storage instance, or an I/O error.</exception>
    public static RaftStorage Open(string directory, WalOptions options, ILogger logger, out RecoveredState recovered)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (options.SegmentBytes < MinSegmentBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"SegmentBytes must be at least {MinSegmentBytes}");
        }
        string dir = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(dir);
        FileStream lockFile = AcquireLock(dir);
        var storage = new RaftStorage(dir, options, logger, lockFile);
        try
        {
            recovered = storage.Recover();
            return storage;
        }
        catch
        {
            storage._active?.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    private static FileStream AcquireLock(string dir)
    {
        try
        {
            // FileShare.None takes an exclusive lock (flock on Unix): two writers on one log would destroy it.
            return new FileStream(Path.Combine(dir, "LOCK"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"data directory '{dir}' is already open by another process or storage instance", ex);
        }
    }

    private RecoveredState Recover()
    {
        bool dirChanged = RemoveTempFiles();
        (List<(ulong Seq, string Path)> segmentFiles, List<(ulong Index, string Path)> snapshotFiles) = ListDataFiles();
        CheckSegmentsConsecutive(segmentFiles);

        var warnings = new List<string>();
        (Snapshot? snapshot, List<string> unusable) = ReadNewestUsableSnapshot(snapshotFiles, warnings);
        string unusableNote = unusable.Count == 0 ? "" : $" (newer snapshot files are unusable: {string.Join(", ", unusable)})";
        ulong snapIndex = snapshot?.Index ?? 0, snapTerm = snapshot?.Term ?? 0;

        (List<SegmentScan> scans, ReplayResult replay) = ScanAndReplay(segmentFiles, snapIndex, snapTerm, unusableNote);
        warnings.AddRange(scans.Where(s => s.TornTail is not null).Select(s => s.TornTail!));
        warnings.AddRange(replay.Warnings);

        // Recovery succeeded: now repair the directory.
        dirChanged |= SetAsideUnusableSnapshots(unusable);
        dirChanged |= DeleteSnapshotsBefore(snapIndex);
        RestoreLogState(snapIndex, snapTerm, replay);
        if (scans.Count == 0)
        {
            StartEmptyLog(snapIndex, snapTerm);
        }
        else
        {
            ResumeLog(scans, replay, snapIndex, snapTerm);
        }
        dirChanged |= DeleteObsoleteSegments(snapIndex);
        if (dirChanged && _options.Fsync)
        {
            NativeIO.SyncDirectory(_dir);
        }

        foreach (string w in warnings)
        {
            _logger.LogWarning("Storage recovery in {Directory}: {Warning}", _dir, w);
        }
        return new RecoveredState(_hardState, snapshot, replay.Entries, warnings);
    }

    /// <summary>Segment files oldest first, snapshot files newest first.</summary>
    private (List<(ulong Seq, string Path)> Segments, List<(ulong Index, string Path)> Snapshots) ListDataFiles()
    {
        var segmentFiles = new List<(ulong Seq, string Path)>();
        var snapshotFiles = new List<(ulong Index, string Path)>();
        foreach (string path in System.IO.Directory.EnumerateFiles(_dir))
        {
            string name = Path.GetFileName(path);
            if (WalFormat.TryParseSegmentName(name, out ulong seq)) segmentFiles.Add((seq, path));
            else if (SnapshotFile.TryParseName(name, out ulong index)) snapshotFiles.Add((index, path));
        }
        segmentFiles.Sort((a, b) => a.Seq.CompareTo(b.Seq));
        snapshotFiles.Sort((a, b) => b.Index.CompareTo(a.Index));
        return (segmentFiles, snapshotFiles);
    }

    private void CheckSegmentsConsecutive(List<(ulong Seq, string Path)> segmentFiles)
    {
        for (int i = 1; i < segmentFiles.Count; i++)
        {
            if (segmentFiles[i].Seq != segmentFiles[i - 1].Seq + 1)
            {
                string missing = Path.Combine(_dir, WalFormat.SegmentFileName(segmentFiles[i - 1].Seq + 1));
                throw new WalCorruptionException(missing, 0, "segment file is missing (live segments are always consecutive)");
            }
        }
    }

    /// <summary>
    /// The newest snapshot that verifies, and the newer ones that do not; whether the log still covers the gap behind a
    /// skipped one is checked by replay.
    /// </summary>
    private static (Snapshot? Snapshot, List<string> Unusable) ReadNewestUsableSnapshot(List<(ulong Index, string Path)> snapshotFiles, List<string> warnings)
    {
        var unusable = new List<string>();
        foreach ((ulong index, string path) in snapshotFiles)
        {
            try
            {
                return (SnapshotFile.Read(path, index), unusable);
            }
            catch (InvalidDataException ex)
            {
                unusable.Add(path);
                warnings.Add($"snapshot '{path}' is unusable ({ex.Message}); trying an older one");
            }
        }
        return (null, unusable);
    }

    /// <summary>One pass over the live segments: validates each record and replays it on top of the snapshot.</summary>
    private static (List<SegmentScan> Scans, ReplayResult Replay) ScanAndReplay(
        List<(ulong Seq, string Path)> segmentFiles, ulong snapIndex, ulong snapTerm, string unusableNote)
    {
        var replayer = new WalReplay(snapIndex, snapTerm, unusableNote);
        var scans = new List<SegmentScan>(segmentFiles.Count);
        byte[] readBuffer = [];
        for (int i = 0; i < segmentFiles.Count; i++)
        {
            scans.Add(SegmentScanner.Scan(segmentFiles[i].Path, segmentFiles[i].Seq, i == segmentFiles.Count - 1, ref readBuffer, replayer));
        }
        return (scans, replayer.Finish());
    }

    private static bool SetAsideUnusableSnapshots(List<string> unusable)
    {
        foreach (string path in unusable)
        {
            File.Move(path, path + SnapshotFile.CorruptSuffix, overwrite: true); // keep the evidence, out of the way
        }
        return unusable.Count > 0;
    }

    private void RestoreLogState(ulong snapIndex, ulong snapTerm, ReplayResult replay)
    {
        _snapshotIndex = snapIndex;
        _snapshotTerm = snapTerm;
        _hardState = replay.HardState;
        _terms.Reset(snapIndex, snapTerm);
        foreach (Entry e in replay.Entries)
        {
            _terms.Append(e.Index, e.Term);
        }
    }

    /// <summary>No segment yet: the log starts at the snapshot (or at index 0).</summary>
    private void StartEmptyLog(ulong snapIndex, ulong snapTerm)
    {
        _lastIndex = snapIndex;
        _lastTerm = snapTerm;
        _active = CreateSegment(1, NewHeader(1, snapIndex, snapTerm), default, new byte[WriteBufferBytes]);
        _segments.Add(new SegmentInfo(1, _active.Path, snapIndex));
        _positions.Reset(snapIndex + 1);
    }

    /// <summary>Continues the recovered segments: the last one becomes the active segment.</summary>
    private void ResumeLog(List<SegmentScan> scans, ReplayResult replay, ulong snapIndex, ulong snapTerm)
    {
        _lastIndex = replay.RawLastIndex;
        _lastTerm = replay.RawLastTerm;
        for (int i = 0; i < scans.Count; i++)
        {
            var info = new SegmentInfo(scans[i].Seq, scans[i].Path, scans[i].Header.LastIndex) { Length = scans[i].ValidLength };
            _segments.Add(info);
            if (i < scans.Count - 1) _sealedBytes += info.Length;
        }
        _active = OpenActiveSegment(scans[^1]);
        _positions = replay.Positions;
        if (replay.NeedsReset)
        {
            // Finish what the interrupted SaveSnapshot started: the log restarts at the snapshot.
            Rollover(snapIndex, snapTerm, copyFrom: -1);
            _lastIndex = snapIndex;
            _lastTerm = snapTerm;
            _positions.Reset(snapIndex + 1);
        }
    }

    /// <summary>
    /// Opens the last segment for appending, cutting away a maybe-unsynced tail first, and syncs what is kept: records
    /// recovered from the page cache may not be durable yet, and the next sync mark will vouch for them.
    /// </summary>
    private SegmentWriter OpenActiveSegment(SegmentScan scan)
    {
        SafeFileHandle handle = File.OpenHandle(scan.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            if (scan.TornTail is not null)
            {
                RandomAccess.SetLength(handle, scan.ValidLength); // preallocation below re-extends it with zeros
            }
            var writer = new SegmentWriter(handle, scan.Path, scan.Seq, scan.Header.Salt, scan.ValidLength, new byte[WriteBufferBytes],
                PreallocateLimit, _options.SyncHooks);
            // The cut must be durable before new records land after it, or stale records past it could reappear.
            writer.Sync(_options.Fsync, full: true);
            return writer;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static SegmentHeader NewHeader(ulong seq, ulong lastIndex, ulong lastTerm, HardState hardState = default)
    {
        ulong salt;
        do
        {
            salt = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        }
        while (salt == 0); // 0 is the salt of format 1 segments
        return new SegmentHeader(seq, lastIndex, lastTerm, hardState, salt);
    }

    /// <summary>
    /// Appends records to the active segment (buffered, not yet durable: call <see cref="Sync"/>). Entries are
    /// written before the hard state. If <c>entries[0].Index</c> is not past the last stored index, the consensus
    /// core truncated its log there and the new entries replace everything from that index on.
    /// </summary>
    /// <exception cref="ArgumentException">Entries are not consecutive, would leave a gap, would rewrite the
    /// snapshot's entries, or the hard state commits beyond the log.</exception>
    public void Append(HardState? hardState, IReadOnlyList<Entry> entries)
    {
        ThrowIfUnusable();
        ArgumentNullException.ThrowIfNull(entries);
        CheckConsecutive(entries);
        int start = SkipEntriesInSnapshot(entries, out ulong newLast);
        bool writeHardState = hardState is { } hs && hs != _hardState;
        CheckCommitWithinLog(writeHardState ? hardState!.Value.Commit : _hardState.Commit, newLast, writeHardState);
        if (start == entries.Count && !writeHardState)
        {
            return;
        }

        try
        {
            RollOverIfFull();
            _active.MarkSynced(); // opens the batch: vouches for what the last sync made durable
            WriteEntries(entries, start);
            if (writeHardState)
            {
                WriteHardState(hardState!.Value);
            }
            _dirty = true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _failure = ex;
            throw;
        }
    }

    private static void CheckConsecutive(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }
        ulong first = entries[0].Index;
        if (first == 0)
        {
            throw new ArgumentException("log indexes start at 1", nameof(entries));
        }
        for (int i = 0; i < entries.Count; i++)
        {
            Entry e = entries[i] ?? throw new ArgumentException($"entries[{i}] is null", nameof(entries));
            if (e.Index != first + (ulong)i)
            {
                throw new ArgumentException($"entries must have consecutive indexes: {entries[i - 1].Index} is followed by {e.Index}", nameof(entries));
            }
            if (e.Data.Length > WalFormat.MaxPayload - WalFormat.EntryFixedSize)
            {
                throw new ArgumentException($"entry {e.Index} has {e.Data.Length} data bytes, more than a WAL record holds", nameof(entries));
            }
        }
    }

    /// <summary>
    /// Entries up to the snapshot index are committed, so they equal what the snapshot covers: returns the position of
    /// the first entry to write, and the log end after the append.
    /// </summary>
    private int SkipEntriesInSnapshot(IReadOnlyList<Entry> entries, out ulong newLast)
    {
        newLast = _lastIndex;
        int count = entries.Count, start = 0;
        if (count == 0)
        {
            return 0;
        }
        while (start < count && entries[start].Index <= _snapshotIndex)
        {
            start++;
        }
        if (start == count)
        {
            if (_lastIndex > entries[^1].Index)
            {
                throw new ArgumentException(
                    $"entries {entries[0].Index}..{entries[^1].Index} would truncate the log below the snapshot index {_snapshotIndex}", nameof(entries));
            }
            return start;
        }
        if (entries[start].Index > _lastIndex + 1)
        {
            throw new ArgumentException(
                $"entry {entries[start].Index} would leave a gap after the last stored index {_lastIndex} " +
                "(save the snapshot that covers the gap first)", nameof(entries));
        }
        newLast = entries[^1].Index;
        return start;
    }

    private static void CheckCommitWithinLog(ulong commit, ulong newLast, bool fromHardState)
    {
        if (commit > newLast)
        {
            // Either the core truncated committed entries or persists a commit index ahead of its own log; both would
            // leave a log on disk that has lost committed entries.
            throw new ArgumentException(
                $"commit index {commit} is beyond the last log index {newLast} after this append " +
                "(committed entries cannot be overwritten; append the entries, or save the snapshot, that a commit covers first)",
                fromHardState ? "hardState" : "entries");
        }
    }

    private void RollOverIfFull()
    {
        if (_active.Length >= _options.SegmentBytes)
        {
            Rollover(_lastIndex, _lastTerm, copyFrom: -1);
            _positions.Reset(_lastIndex + 1);
        }
    }

    private void WriteEntries(IReadOnlyList<Entry> entries, int start)
    {
        if (start == entries.Count)
        {
            return;
        }
        if (entries[start].Index <= _lastIndex)
        {
            _terms.TruncateFrom(entries[start].Index);
        }
        for (int i = start; i < entries.Count; i++)
        {
            Entry e = entries[i];
            int size = WalFormat.EntryRecordSize(e);
            long offset = _active.Length;
            WalFormat.WriteEntry(_active.Reserve(size), e);
            _active.Advance(size);
            _positions.Record(e.Index, offset);
            _terms.Append(e.Index, e.Term);
        }
        _lastIndex = entries[^1].Index;
        _lastTerm = entries[^1].Term;
    }

    private void WriteHardState(HardState hs)
    {
        const int size = WalFormat.HeaderSize + WalFormat.HardStateSize;
        WalFormat.WriteHardState(_active.Reserve(size), hs);
        _active.Advance(size);
        _hardState = hs;
    }

    /// <summary>
    /// Group commit: one data sync (fdatasync on Linux) makes every record appended since the previous Sync durable.
    /// Does nothing if nothing was appended. After a failed sync the storage refuses further use, because the
    /// kernel may have dropped the unsynced pages.
    /// </summary>
    public void Sync()
    {
        ThrowIfUnusable();
        if (!_dirty)
        {
            return;
        }
        try
        {
            SyncActive();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _failure = ex;
            throw;
        }
    }

    private void SyncActive()
    {
        if (!_dirty)
        {
            return;
        }
        _active.Sync(_options.Fsync);
        if (_options.Fsync)
        {
            SyncCount++;
        }
        _dirty = false;
    }

    /// <summary>
    /// Durably saves a snapshot (temp file, fsync, rename, directory fsync), then starts a new segment at the
    /// snapshot point and deletes the segments and snapshots it makes obsolete. If the log has an entry with the
    /// snapshot's index and term, the entries after it are kept (carried into the new segment); otherwise the log
    /// diverges from the snapshot or ends before it and is discarded, as the core does (paper Fig. 13 steps 6-7).
    /// Everything appended before the call is durable when it returns.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot is older than the stored one.</exception>
    public void SaveSnapshot(Snapshot snapshot) => StoreSnapshot(snapshot, writeFile: true);

    /// <summary>
    /// Writes the snapshot file alone (temp file, fsync, rename, directory fsync) without touching the log: safe on any
    /// thread while the owner keeps appending, because it creates only its own file. Follow with
    /// <see cref="AdoptSnapshot"/> on the owning thread. A crash in between leaves a valid snapshot that recovery uses
    /// (the log after it replays as after an interrupted <see cref="SaveSnapshot"/>).
    /// </summary>
    public static void WriteSnapshotFile(string directory, Snapshot snapshot, bool fsync) => SnapshotFile.Write(directory, snapshot, fsync);

    /// <summary>
    /// <see cref="SaveSnapshot"/> for a snapshot whose file <see cref="WriteSnapshotFile"/> already wrote. Returns false
    /// (and removes that file) when a snapshot at least as new was stored meanwhile, e.g. one installed from the leader.
    /// </summary>
    public bool AdoptSnapshot(Snapshot snapshot)
    {
        ThrowIfUnusable();
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Index < _snapshotIndex)
        {
            SnapshotFile.TryDelete(Path.Combine(_dir, SnapshotFile.FileName(snapshot.Index)));
            return false;
        }
        if (snapshot.Index == _snapshotIndex) return false;
        StoreSnapshot(snapshot, writeFile: false);
        return true;
    }

    private void StoreSnapshot(Snapshot snapshot, bool writeFile)
    {
        ThrowIfUnusable();
        ArgumentNullException.ThrowIfNull(snapshot);
        ulong index = snapshot.Index, term = snapshot.Term;
        if (index == 0)
        {
            throw new ArgumentException("a snapshot covers at least index 1", nameof(snapshot));
        }
        if (index < _snapshotIndex)
        {
            throw new ArgumentException($"snapshot {index} is older than the stored snapshot {_snapshotIndex}", nameof(snapshot));
        }
        if (index == _snapshotIndex)
        {
            if (term != _snapshotTerm)
            {
                throw new ArgumentException($"snapshot {index} has term {term} but the stored one at that index has term {_snapshotTerm}", nameof(snapshot));
            }
            return; // the state at one index is the same snapshot
        }
        try
        {
            bool logMatches = index <= _lastIndex && _terms.TermAt(index) == term;
            if (writeFile) SnapshotFile.Write(_dir, snapshot, _options.Fsync);
            if (!logMatches)
            {
                Rollover(index, term, copyFrom: -1);
                _lastIndex = index;
                _lastTerm = term;
                _terms.Reset(index, term);
                _positions.Reset(index + 1);
            }
            else
            {
                _terms.TrimBefore(index);
                if (index == _lastIndex)
                {
                    Rollover(index, term, copyFrom: -1);
                    _positions.Reset(index + 1);
                }
                else if (_positions.TryGet(index + 1, out long from))
                {
                    // Copy the records from the one that wrote index+1 on (all later records are past the snapshot)
                    // behind a header at the snapshot point: no older segment is needed for replay any more.
                    Rollover(index, term, copyFrom: from);
                    _positions.Rebase(index + 1, SegmentHeaderRecordBytes - from);
                }
                else
                {
                    // The entries after the snapshot start in an older segment: keep the active one and prune what
                    // the snapshot makes obsolete; sync so that the call is a durability point like the other paths.
                    SyncActive();
                }
            }
            _snapshotIndex = index;
            _snapshotTerm = term;
            bool changed = DeleteObsoleteSegments(index);
            changed |= DeleteSnapshotsBefore(index);
            if (changed && _options.Fsync)
            {
                NativeIO.SyncDirectory(_dir);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _failure = ex;
            throw;
        }
    }

    /// <summary>
    /// Seals the active segment and starts the next one with a header saying the log ends at
    /// <paramref name="lastIndex"/>; if <paramref name="copyFrom"/> is not negative, the active segment's records
    /// from that offset on are carried over behind the header.
    /// </summary>
    private void Rollover(ulong lastIndex, ulong lastTerm, long copyFrom)
    {
        SegmentWriter old = _active;
        SegmentInfo oldInfo = _segments[^1];
        old.Flush();
        byte[]? tail = null;
        int tailLength = 0;
        try
        {
            if (copyFrom >= 0)
            {
                tailLength = checked((int)(old.Length - copyFrom));
                tail = ArrayPool<byte>.Shared.Rent(tailLength);
                old.ReadAt(copyFrom, tail.AsSpan(0, tailLength));
            }
            // The old segment must be whole and durable before a later segment exists: recovery treats damage in any
            // segment but the last as corruption.
            old.Seal(_options.Fsync);
            oldInfo.Length = old.Length;
            _sealedBytes += old.Length;
            byte[] buffer = old.DetachBuffer();
            old.Dispose();
            ulong seq = oldInfo.Seq + 1;
            _active = CreateSegment(seq, NewHeader(seq, lastIndex, lastTerm, _hardState), tail.AsSpan(0, tailLength), buffer);
            _segments.Add(new SegmentInfo(seq, _active.Path, lastIndex));
            _dirty = false;
        }
        finally
        {
            if (tail is not null) ArrayPool<byte>.Shared.Return(tail);
        }
    }

    /// <summary>Creates a segment under a temp name, writes and syncs its header, then renames it into place.</summary>
    private SegmentWriter CreateSegment(ulong seq, SegmentHeader header, ReadOnlySpan<byte> records, byte[] buffer)
    {
        string path = Path.Combine(_dir, WalFormat.SegmentFileName(seq));
        string tmp = path + ".tmp";
        SafeFileHandle handle = File.OpenHandle(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            var writer = new SegmentWriter(handle, path, seq, header.Salt, 0, buffer, PreallocateLimit, _options.SyncHooks);
            WalFormat.WriteSegmentHeader(writer.Reserve(SegmentHeaderRecordBytes), header);
            writer.Advance(SegmentHeaderRecordBytes);
            writer.WriteRaw(records);
            // Header and carried tail become durable before the file is named, so a mark may vouch for them at once:
            // damage in a carried tail is then reported, not cut as if it had never been synced.
            writer.WriteSyncMark();
            writer.Sync(_options.Fsync, full: true);
            File.Move(tmp, path, overwrite: false);
            if (_options.Fsync)
            {
                NativeIO.SyncDirectory(_dir);
            }
            return writer;
        }
        catch
        {
            handle.Dispose();
            SnapshotFile.TryDelete(tmp);
            throw;
        }
    }

    /// <summary>
    /// Deletes the segments before the newest one whose header starts at or before the snapshot index: replay from
    /// that header needs nothing earlier. Only a prefix is ever deleted (a gap would break truncation semantics).
    /// </summary>
    private bool DeleteObsoleteSegments(ulong snapshotIndex)
    {
        int keepFrom = 0;
        for (int i = _segments.Count - 1; i >= 0; i--)
        {
            if (_segments[i].HeaderLastIndex <= snapshotIndex)
            {
                keepFrom = i;
                break;
            }
        }
        for (int i = 0; i < keepFrom; i++)
        {
            File.Delete(_segments[i].Path);
            _sealedBytes -= _segments[i].Length;
        }
        _segments.RemoveRange(0, keepFrom);
        return keepFrom > 0;
    }

    private bool DeleteSnapshotsBefore(ulong index)
    {
        bool deleted = false;
        foreach (string path in System.IO.Directory.EnumerateFiles(_dir, SnapshotFile.Prefix + "*" + SnapshotFile.Suffix))
        {
            if (SnapshotFile.TryParseName(Path.GetFileName(path), out ulong i) && i < index)
            {
                File.Delete(path);
                deleted = true;
            }
        }
        return deleted;
    }

    /// <summary>Temp files are writes that never reached their rename: not part of the durable state.</summary>
    private bool RemoveTempFiles()
    {
        bool removed = false;
        foreach (string path in System.IO.Directory.EnumerateFiles(_dir, "*.tmp"))
        {
            string name = Path.GetFileName(path);
            if (name.StartsWith(WalFormat.SegmentPrefix, StringComparison.Ordinal) || name.StartsWith(SnapshotFile.Prefix, StringComparison.Ordinal))
            {
                File.Delete(path);
                removed = true;
            }
        }
        return removed;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_failure is not null)
        {
            throw new InvalidOperationException("storage failed on an earlier write or sync and cannot be trusted; restart the node to recover", _failure);
        }
    }

    /// <summary>
    /// Releases the files and the directory lock as a killed process would: buffered records are lost and nothing is
    /// written or synced. For tests that model crashes.
    /// </summary>
    internal void CloseAbruptly()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _active?.Dispose();
        _lock.Dispose();
    }

    /// <summary>Writes and syncs whatever was appended, then releases the files and the directory lock.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (_failure is null && _active is not null)
            {
                // Sync what is pending, then leave a mark that vouches for it: after a clean close, damage anywhere in
                // the log is reported rather than cut as a torn tail.
                if (_dirty)
                {
                    _active.Sync(_options.Fsync);
                }
                if (_active.MarkSynced())
                {
                    _active.Sync(_options.Fsync);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(ex, "Could not flush the write-ahead log in {Directory} on close", _dir);
        }
        finally
        {
            _active?.Dispose();
            _lock.Dispose();
        }
    }
}
