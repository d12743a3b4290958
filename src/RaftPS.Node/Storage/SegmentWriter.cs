using Microsoft.Win32.SafeHandles;

namespace RaftPS.Node.Storage;

/// <summary>
/// The active segment: records are serialised straight into a reusable buffer, which is written to the file when
/// it fills up or on <see cref="Flush"/>, so the hot path makes no per-entry allocations or system calls.
/// </summary>
internal sealed class SegmentWriter : IDisposable
{
    /// <summary>
    /// Space is reserved this far ahead of the write position rather than for the whole segment at once, so that
    /// recovery reads at most this many zero bytes past the last record, and an idle node does not hold a full
    /// segment of disk. Each extension costs one metadata flush; appends in between leave the file size unchanged.
    /// </summary>
    internal const long PreallocateChunk = 4L << 20;

    private readonly SafeFileHandle _handle;
    private readonly long _preallocateLimit;
    private byte[] _buffer;
    private int _buffered;
    private long _flushed;
    private long _allocated;

    /// <param name="length">Bytes of records already in the file; appends continue there.</param>
    /// <param name="preallocateLimit">Reserve space ahead of the writes up to this file size; 0 to never preallocate.</param>
    public SegmentWriter(SafeFileHandle handle, string path, ulong seq, long length, byte[] buffer, long preallocateLimit)
    {
        _handle = handle;
        Path = path;
        Seq = seq;
        _flushed = length;
        _buffer = buffer;
        _preallocateLimit = preallocateLimit;
        _allocated = RandomAccess.GetLength(handle);
        EnsureAllocated(length);
    }

    private void EnsureAllocated(long end)
    {
        if (_preallocateLimit <= 0 || end + PreallocateChunk / 2 <= _allocated || _allocated >= _preallocateLimit)
        {
            return;
        }
        long target = Math.Min(_preallocateLimit, end + PreallocateChunk);
        if (target > _allocated)
        {
            NativeIO.Preallocate(_handle, target);
            _allocated = target;
        }
    }

    public string Path { get; }
    public ulong Seq { get; }

    /// <summary>Logical length: bytes in the file plus bytes still buffered.</summary>
    public long Length => _flushed + _buffered;

    /// <summary>Room for one record of <paramref name="size"/> bytes at the end of the buffer; call <see cref="Advance"/> after filling it.</summary>
    public Span<byte> Reserve(int size)
    {
        if (_buffer.Length - _buffered < size)
        {
            Flush();
            if (_buffer.Length < size)
            {
                _buffer = new byte[(int)Math.Min(Array.MaxLength, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)size))];
            }
        }
        return _buffer.AsSpan(_buffered, size);
    }

    public void Advance(int size) => _buffered += size;

    /// <summary>Appends already encoded records (used to carry the log tail into a new segment).</summary>
    public void WriteRaw(ReadOnlySpan<byte> records)
    {
        Flush();
        if (!records.IsEmpty)
        {
            EnsureAllocated(_flushed + records.Length);
            RandomAccess.Write(_handle, records, _flushed);
            _flushed += records.Length;
        }
    }

    /// <summary>Hands buffered bytes to the OS (page cache); not durable until <see cref="DataSync"/>.</summary>
    public void Flush()
    {
        if (_buffered == 0)
        {
            return;
        }
        EnsureAllocated(_flushed + _buffered);
        RandomAccess.Write(_handle, _buffer.AsSpan(0, _buffered), _flushed);
        _flushed += _buffered;
        _buffered = 0;
    }

    public void DataSync() => NativeIO.DataSync(_handle, Path);

    public void FullSync() => NativeIO.FullSync(_handle);

    /// <summary>
    /// Ends the segment: cuts the preallocated tail so the file holds exactly its records (recovery treats any
    /// damage in a non-last segment as corruption), and makes it durable before the next segment is named.
    /// </summary>
    public void Seal(bool fsync)
    {
        Flush();
        RandomAccess.SetLength(_handle, _flushed);
        _allocated = _flushed;
        if (fsync)
        {
            NativeIO.FullSync(_handle);
        }
    }

    /// <summary>Reads flushed bytes back (the buffer must have been flushed past this range).</summary>
    public void ReadAt(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_handle, destination, offset);
            if (n <= 0)
            {
                throw new IOException($"unexpected end of '{Path}' at offset {offset}");
            }
            destination = destination[n..];
            offset += n;
        }
    }

    /// <summary>Gives the write buffer to the next segment so a rollover allocates nothing.</summary>
    public byte[] DetachBuffer()
    {
        if (_buffered != 0)
        {
            throw new InvalidOperationException("flush before detaching the buffer");
        }
        byte[] b = _buffer;
        _buffer = [];
        return b;
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>
/// The term of every log index from the snapshot on, stored as runs of equal term (terms change rarely, so this
/// is a handful of items). SaveSnapshot needs the term at the snapshot index to decide whether the log after it
/// is kept or discarded (Raft paper Fig. 13, steps 6-7).
/// </summary>
internal sealed class TermRuns
{
    private readonly List<(ulong Start, ulong Term)> _runs = [];

    /// <summary>The log now ends at <paramref name="index"/> (a snapshot, or index 0 with term 0 for an empty log).</summary>
    public void Reset(ulong index, ulong term)
    {
        _runs.Clear();
        _runs.Add((index, term));
    }

    /// <summary>Records the entry appended at <paramref name="index"/> (one past the current end).</summary>
    public void Append(ulong index, ulong term)
    {
        if (_runs[^1].Term != term)
        {
            _runs.Add((index, term));
        }
    }

    /// <summary>Drops everything from <paramref name="index"/> on; the first run (the snapshot point) always stays.</summary>
    public void TruncateFrom(ulong index)
    {
        int n = _runs.Count;
        while (n > 1 && _runs[n - 1].Start >= index)
        {
            n--;
        }
        _runs.RemoveRange(n, _runs.Count - n);
    }

    /// <summary>Term at <paramref name="index"/>, which must lie between the first run and the end of the log.</summary>
    public ulong TermAt(ulong index) => _runs[Find(index)].Term;

    /// <summary>Forgets terms before <paramref name="index"/> (a new snapshot point inside the log).</summary>
    public void TrimBefore(ulong index)
    {
        int i = Find(index);
        ulong term = _runs[i].Term;
        _runs.RemoveRange(0, i);
        _runs[0] = (index, term);
    }

    private int Find(ulong index)
    {
        if (index < _runs[0].Start)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"index {index} is before the first tracked index {_runs[0].Start}");
        }
        int lo = 0, hi = _runs.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_runs[mid].Start <= index) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
}

/// <summary>
/// Byte offset, in the active segment, of the newest record of each log index written there. Used to copy the
/// log tail after a snapshot into a fresh segment, so that every older segment can be deleted.
/// </summary>
internal sealed class PositionIndex
{
    private long[] _offsets = new long[256];
    private int _count;
    private ulong _base = 1;

    /// <summary>The segment starts empty; its first entry will be <paramref name="firstIndex"/> (or a truncation below it).</summary>
    public void Reset(ulong firstIndex)
    {
        _base = firstIndex;
        _count = 0;
    }

    /// <summary>An entry record for <paramref name="index"/> was written at <paramref name="offset"/>; it supersedes any later index.</summary>
    public void Record(ulong index, long offset)
    {
        if (index < _base)
        {
            // truncated below this segment's first entry: earlier records of this segment are all superseded
            _base = index;
            _count = 0;
        }
        else
        {
            ulong rel = index - _base;
            if (rel > (ulong)_count)
            {
                throw new InvalidOperationException($"entry {index} leaves a gap after {_base + (ulong)_count - 1}");
            }
            _count = (int)rel;
        }
        if (_count == _offsets.Length)
        {
            Array.Resize(ref _offsets, _offsets.Length * 2);
        }
        _offsets[_count++] = offset;
    }

    public bool TryGet(ulong index, out long offset)
    {
        if (index >= _base && index - _base < (ulong)_count)
        {
            offset = _offsets[index - _base];
            return true;
        }
        offset = 0;
        return false;
    }

    /// <summary>Keeps indexes from <paramref name="firstIndex"/> on, shifting their offsets by <paramref name="delta"/>.</summary>
    public void Rebase(ulong firstIndex, long delta)
    {
        int skip = (int)(firstIndex - _base);
        int keep = _count - skip;
        Array.Copy(_offsets, skip, _offsets, 0, keep);
        for (int i = 0; i < keep; i++)
        {
            _offsets[i] += delta;
        }
        _count = keep;
        _base = firstIndex;
    }
}
