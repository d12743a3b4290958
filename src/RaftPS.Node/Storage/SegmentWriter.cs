using Microsoft.Win32.SafeHandles;

namespace RaftPS.Node.Storage;

/// <summary>
/// The active segment: records are serialised straight into a reusable buffer, which is written to the file when
/// it fills up or on <see cref="Flush"/>, so the hot path makes no per-entry allocations or system calls. It also
/// keeps the segment's sync marks (see <see cref="WalFormat"/>): which bytes are durable, and up to where a mark
/// already vouches for them.
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
    private readonly ISyncHooks? _hooks;
    private byte[] _buffer;
    private int _buffered;
    private long _flushed;
    private long _allocated;
    private long _durable;  // bytes made durable by the last sync (or handed to the OS, when fsync is off)
    private long _vouchedEnd;  // end of the last sync mark written: the bytes before that mark are vouched for

    /// <param name="salt">The segment's salt, from its header; sync marks carry it.</param>
    /// <param name="length">Bytes of records already in the file; appends continue there. They count as durable only
    /// after the next <see cref="Sync"/>.</param>
    /// <param name="preallocateLimit">Reserve space ahead of the writes up to this file size; 0 to never preallocate.</param>
    /// <param name="hooks">Told around each fsync of this file (tests model the disk with it).</param>
    public SegmentWriter(SafeFileHandle handle, string path, ulong seq, ulong salt, long length, byte[] buffer, long preallocateLimit,
        ISyncHooks? hooks)
    {
        _handle = handle;
        Path = path;
        Seq = seq;
        Salt = salt;
        _hooks = hooks;
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
    public ulong Salt { get; }

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

    /// <summary>Hands buffered bytes to the OS (page cache); not durable until <see cref="Sync"/>.</summary>
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

    /// <summary>
    /// Makes everything appended durable: a data sync (fdatasync), or a full sync that also covers the file size. With
    /// <paramref name="fsync"/> false the bytes are only handed to the OS, and count as durable for sync marks anyway
    /// (the no-fsync mode survives process crashes only).
    /// </summary>
    public void Sync(bool fsync, bool full = false)
    {
        Flush();
        if (fsync)
        {
            _hooks?.BeforeSync(Path);
            if (full) NativeIO.FullSync(_handle);
            else NativeIO.DataSync(_handle, Path);
            _hooks?.AfterSync(Path, _handle);
        }
        _durable = _flushed;
    }

    /// <summary>
    /// Opens a batch: if bytes were synced since the last mark and nothing has been appended after the sync, appends a
    /// sync mark that vouches for them. Must be called before the batch's first record.
    /// </summary>
    /// <returns>Whether a mark was written.</returns>
    public bool MarkSynced()
    {
        if (_durable != Length || _durable <= _vouchedEnd)
        {
            return false;
        }
        WriteSyncMark();
        return true;
    }

    /// <summary>
    /// Appends a sync mark that vouches for every byte before it. The caller guarantees that claim: the bytes are
    /// durable already, or become durable with the mark before anyone can read it (a segment's first content is synced
    /// under a temporary name).
    /// </summary>
    public void WriteSyncMark()
    {
        long at = Length;
        WalFormat.WriteSyncMark(Reserve(WalFormat.SyncMarkRecordSize), Salt, at);
        Advance(WalFormat.SyncMarkRecordSize);
        _vouchedEnd = at + WalFormat.SyncMarkRecordSize;
    }

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
            _hooks?.BeforeSync(Path);
            NativeIO.FullSync(_handle);
            _hooks?.AfterSync(Path, _handle);
        }
        _durable = _flushed;
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
