using System.Collections;
using Microsoft.Win32.SafeHandles;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>Where a follower's copy of one stream stands.</summary>
internal enum IncomingState
{
    Receiving,
    /// <summary>Every chunk is on disk; a background task checks the whole and hands it to the event loop.</summary>
    Verifying,
}

/// <summary>
/// One snapshot stream arriving at a follower: chunks are written at their offsets into a temp file, so reordered or
/// repeated chunks cost nothing and memory stays at one bit per chunk. Guarded by the receiver's lock.
/// </summary>
internal sealed class IncomingTransfer : IDisposable
{
    private readonly BitArray _received;
    private int _contiguous;
    private int _count;

    public IncomingTransfer(ulong from, in SnapshotChunk description, string path, long now)
    {
        From = from;
        Description = description with { Offset = 0 };
        Path = path;
        _received = new BitArray(description.ChunkCount);
        Handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        LastChunkAt = now;
    }

    public ulong From { get; }
    /// <summary>The stream's description (its first chunk's header).</summary>
    public SnapshotChunk Description { get; }
    public string Path { get; }
    public SafeFileHandle Handle { get; }
    public IncomingState State { get; set; }
    public long LastChunkAt { get; set; }

    /// <summary>Bytes from the start that are all on disk: what the acknowledgement reports.</summary>
    public long ContiguousBytes => Math.Min((long)_contiguous * Description.ChunkSize, Description.TotalLength);

    public bool IsComplete => _count == _received.Length;

    /// <summary>Writes one chunk (validated by the codec) unless it is already here.</summary>
    /// <exception cref="IOException">The disk refused it.</exception>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        int i = (int)(offset / Description.ChunkSize);
        if (_received[i]) return;
        RandomAccess.Write(Handle, data, offset);
        _received[i] = true;
        _count++;
        while (_contiguous < _received.Length && _received[_contiguous]) _contiguous++;
    }

    /// <summary>Closes and deletes the temp file.</summary>
    public void Dispose()
    {
        Handle.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the receiver clears its directory when the node starts.
        }
    }
}
