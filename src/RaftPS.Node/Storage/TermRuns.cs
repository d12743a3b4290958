namespace RaftPS.Node.Storage;

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
