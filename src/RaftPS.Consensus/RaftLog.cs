namespace RaftPS.Consensus;

/// <summary>Thrown when the core is asked to break one of its own invariants; always a bug in the caller or the core.</summary>
public sealed class RaftInvariantException(string message) : Exception(message);

/// <summary>
/// The in-memory log: a snapshot prefix (index, term) followed by the entries after it. Tracks what the caller has made
/// durable (<see cref="StableIndex"/>) so only new entries are handed out for persistence, and what was committed and applied.
/// </summary>
public sealed class RaftLog
{
    private readonly List<Entry> _entries = new();

    public RaftLog(ulong snapshotIndex = 0, ulong snapshotTerm = 0)
    {
        SnapshotIndex = snapshotIndex;
        SnapshotTerm = snapshotTerm;
        Committed = snapshotIndex;
        Applied = snapshotIndex;
        StableIndex = snapshotIndex;
    }

    public ulong SnapshotIndex { get; private set; }
    public ulong SnapshotTerm { get; private set; }
    public ulong Committed { get; private set; }
    public ulong Applied { get; private set; }
    /// <summary>Highest index handed out for persistence (entries after it are "unstable").</summary>
    public ulong StableIndex { get; private set; }
    /// <summary>Snapshot received from the leader that the caller must install and persist.</summary>
    public Snapshot? PendingSnapshot { get; private set; }

    public ulong FirstIndex => SnapshotIndex + 1;
    public ulong LastIndex => SnapshotIndex + (ulong)_entries.Count;
    public ulong LastTerm => Term(LastIndex) ?? throw new RaftInvariantException("last term unavailable");

    /// <summary>Term of the entry at <paramref name="index"/>, or null if compacted away or beyond the end.</summary>
    public ulong? Term(ulong index)
    {
        if (index == SnapshotIndex) return SnapshotTerm;
        if (index < SnapshotIndex || index > LastIndex) return null;
        return _entries[(int)(index - SnapshotIndex - 1)].Term;
    }

    public bool MatchTerm(ulong index, ulong term) => Term(index) == term;

    public Entry At(ulong index) => _entries[(int)(index - SnapshotIndex - 1)];

    /// <summary>Entries in [lo, hi), at most <paramref name="maxBytes"/> in size (always at least one when the range is non-empty).</summary>
    public List<Entry> Slice(ulong lo, ulong hi, long maxBytes = long.MaxValue)
    {
        if (lo <= SnapshotIndex) throw new RaftInvariantException($"slice from {lo} but log starts after {SnapshotIndex}");
        hi = Math.Min(hi, LastIndex + 1);
        var result = new List<Entry>();
        long size = 0;
        for (var i = lo; i < hi; i++)
        {
            var e = At(i);
            size += e.Size;
            if (result.Count > 0 && size > maxBytes) break;
            result.Add(e);
        }
        return result;
    }

    /// <summary>
    /// Raft log "up-to-date" comparison (paper §5.4.1): compare the last terms first, then the last indexes.
    /// </summary>
    public bool IsUpToDate(ulong lastIndex, ulong lastTerm) =>
        lastTerm > LastTerm || (lastTerm == LastTerm && lastIndex >= LastIndex);

    /// <summary>Appends at the end (leader path). Returns the new last index.</summary>
    public ulong Append(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0) return LastIndex;
        if (entries[0].Index != LastIndex + 1)
            throw new RaftInvariantException($"append at {entries[0].Index} but last index is {LastIndex}");
        _entries.AddRange(entries);
        return LastIndex;
    }

    /// <summary>
    /// Follower append (paper §5.3, Fig. 2 receiver step 3-4): if the entry before the batch matches, keep every existing
    /// entry that agrees with the batch and replace the log only from the first real conflict. A stale, duplicated or
    /// reordered request whose entries all match never truncates anything. Returns the last index verified to match the
    /// leader (prevIndex + batch length), or null if the previous entry does not match.
    /// </summary>
    public ulong? MaybeAppend(ulong prevIndex, ulong prevTerm, IReadOnlyList<Entry> entries)
    {
        if (!MatchTerm(prevIndex, prevTerm)) return null;
        ulong lastNew = prevIndex + (ulong)entries.Count;
        int conflictAt = FindConflict(entries);
        if (conflictAt >= 0)
        {
            var first = entries[conflictAt];
            if (first.Index <= Committed)
                throw new RaftInvariantException($"entry {first.Index} conflicts with committed entry (committed {Committed})");
            TruncateAndAppend(entries, conflictAt);
        }
        return lastNew;
    }

    /// <summary>Index into <paramref name="entries"/> of the first entry that is new or conflicts (different term); -1 if none.</summary>
    private int FindConflict(IReadOnlyList<Entry> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            if (e.Index <= SnapshotIndex) continue; // covered by our snapshot, hence committed and matching
            if (!MatchTerm(e.Index, e.Term)) return i;
        }
        return -1;
    }

    private void TruncateAndAppend(IReadOnlyList<Entry> entries, int from)
    {
        var firstIndex = entries[from].Index;
        if (firstIndex <= LastIndex)
        {
            _entries.RemoveRange((int)(firstIndex - SnapshotIndex - 1), (int)(LastIndex - firstIndex + 1));
            // Entries handed out for persistence past this point are replaced: hand out again from here.
            StableIndex = Math.Min(StableIndex, firstIndex - 1);
        }
        for (int i = from; i < entries.Count; i++) _entries.Add(entries[i]);
    }

    /// <summary>
    /// For a rejection hint (paper §5.3 optimisation): the largest index ≤ <paramref name="index"/> whose term is ≤
    /// <paramref name="term"/>, with its term. Lets the leader skip a whole conflicting term per round trip.
    /// </summary>
    public (ulong Index, ulong Term) FindConflictByTerm(ulong index, ulong term)
    {
        index = Math.Min(index, LastIndex);
        while (index > SnapshotIndex)
        {
            var t = Term(index)!.Value;
            if (t <= term) return (index, t);
            index--;
        }
        return (index, Term(index) ?? 0);
    }

    public void CommitTo(ulong index)
    {
        if (index <= Committed) return;
        if (index > LastIndex) throw new RaftInvariantException($"commit {index} beyond last index {LastIndex}");
        Committed = index;
    }

    /// <summary>Committed entries not yet handed out for applying; only those the caller has also made durable.</summary>
    /// <summary>
    /// Committed entries not yet applied. They may include entries handed out for persistence in the same Ready: the caller
    /// persists before it applies.
    /// </summary>
    public List<Entry> NextCommitted(long maxBytes)
    {
        if (Applied >= Committed) return [];
        return Slice(Math.Max(Applied + 1, FirstIndex), Committed + 1, maxBytes);
    }

    public void AppliedTo(ulong index)
    {
        if (index < Applied || index > Committed)
            throw new RaftInvariantException($"applied {index} outside [{Applied}, {Committed}]");
        Applied = index;
    }

    public List<Entry> UnstableEntries()
    {
        if (StableIndex >= LastIndex) return [];
        return Slice(Math.Max(StableIndex + 1, FirstIndex), LastIndex + 1);
    }

    public void StableTo(ulong index) => StableIndex = Math.Max(StableIndex, Math.Min(index, LastIndex));

    /// <summary>Replaces the log with a snapshot received from the leader (paper §7, Fig. 13 step 7).</summary>
    public void Restore(Snapshot snapshot)
    {
        _entries.Clear();
        SnapshotIndex = snapshot.Index;
        SnapshotTerm = snapshot.Term;
        Committed = snapshot.Index;
        Applied = snapshot.Index;
        StableIndex = snapshot.Index;
        PendingSnapshot = snapshot;
    }

    public void SnapshotHandedOut() => PendingSnapshot = null;

    /// <summary>Drops entries up to <paramref name="index"/> (already in a snapshot the caller persisted).</summary>
    public void CompactTo(ulong index)
    {
        if (index <= SnapshotIndex) return;
        if (index > Applied) throw new RaftInvariantException($"compact to {index} beyond applied {Applied}");
        var term = Term(index)!.Value;
        _entries.RemoveRange(0, (int)(index - SnapshotIndex));
        SnapshotIndex = index;
        SnapshotTerm = term;
    }

    /// <summary>Loads entries recovered from storage (they are stable by definition).</summary>
    public void LoadStable(IReadOnlyList<Entry> entries)
    {
        Append(entries);
        StableIndex = LastIndex;
    }

    public void SetCommittedFromStorage(ulong commit)
    {
        // Commit is persisted together with (after) the entries it covers, so a commit beyond the log means lost data.
        if (commit > LastIndex)
            throw new RaftInvariantException($"stored commit index {commit} is beyond the recovered log (last index {LastIndex})");
        Committed = Math.Max(Committed, commit);
    }
}
