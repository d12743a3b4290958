namespace RaftPS.Node.Storage;

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
