using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>The in-memory log: follower append rules (paper §5.3, Fig. 2), up-to-date check (§5.4.1), compaction.</summary>
public class RaftLogTests
{
    private static string[] Terms(RaftLog log) =>
        log.LastIndex < log.FirstIndex ? [] : log.Slice(log.FirstIndex, log.LastIndex + 1).Select(e => $"{e.Index}@{e.Term}").ToArray();

    public static TheoryData<string, ulong, ulong, Entry[], ulong?, string[]> AppendCases => new()
    {
        // Existing log is always 1@1 2@2 3@3.
        { "mismatching prev term", 2, 3, T.Entries(3, 4), null, ["1@1", "2@2", "3@3"] },
        { "prev beyond the end", 4, 4, T.Entries(5, 4), null, ["1@1", "2@2", "3@3"] },
        { "heartbeat-like empty append", 3, 3, [], 3UL, ["1@1", "2@2", "3@3"] },
        { "plain append at the end", 3, 3, T.Entries(4, 4, 4), 5UL, ["1@1", "2@2", "3@3", "4@4", "5@4"] },
        { "stale shorter append never truncates", 1, 1, T.Entries(2, 2), 2UL, ["1@1", "2@2", "3@3"] },
        { "empty append in the middle never truncates", 1, 1, [], 1UL, ["1@1", "2@2", "3@3"] },
        { "duplicate of the whole log", 0, 0, T.Entries(1, 1, 2, 3), 3UL, ["1@1", "2@2", "3@3"] },
        { "matching prefix plus new tail", 1, 1, T.Entries(2, 2, 3, 4), 4UL, ["1@1", "2@2", "3@3", "4@4"] },
        { "conflict at the last entry", 2, 2, T.Entries(3, 4), 3UL, ["1@1", "2@2", "3@4"] },
        { "conflict in the middle replaces the rest", 1, 1, T.Entries(2, 4), 2UL, ["1@1", "2@4"] },
        { "conflict after matching entries", 0, 0, T.Entries(1, 1, 4, 4, 4), 4UL, ["1@1", "2@4", "3@4", "4@4"] },
    };

    [Theory]
    [MemberData(nameof(AppendCases))]
    public void MaybeAppend(string name, ulong prevIndex, ulong prevTerm, Entry[] entries, ulong? wantLastNew, string[] wantLog)
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 2, 3));
        var lastNew = log.MaybeAppend(prevIndex, prevTerm, entries);
        Assert.True(wantLastNew == lastNew, $"{name}: lastNew {lastNew}, want {wantLastNew}");
        Assert.Equal(wantLog, Terms(log));
    }

    [Fact]
    public void MaybeAppendKeepsMatchingEntriesByIdentity()
    {
        // Entries with the same index and term are the same entry (log matching); they must not be replaced.
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 1));
        var original = log.At(2);
        var replay = new[] { log.At(1), new Entry(1, 2, EntryType.Normal, [9]) };
        Assert.Equal(2UL, log.MaybeAppend(0, 0, replay));
        Assert.Same(original, log.At(2));
        Assert.Equal(3UL, log.LastIndex);
    }

    [Fact]
    public void ConflictWithCommittedEntryThrows()
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 2, 3));
        log.CommitTo(2);
        Assert.Throws<RaftInvariantException>(() => log.MaybeAppend(1, 1, T.Entries(2, 5)));
        Assert.Equal(["1@1", "2@2", "3@3"], Terms(log));
        // A conflict after the commit point is fine.
        Assert.Equal(3UL, log.MaybeAppend(2, 2, T.Entries(3, 5)));
    }

    [Fact]
    public void TruncationHandsReplacedEntriesOutAgain()
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 1));
        Assert.Empty(log.UnstableEntries());
        log.MaybeAppend(1, 1, T.Entries(2, 2));
        Assert.Equal(1UL, log.StableIndex);
        Assert.Equal(["2@2"], log.UnstableEntries().Select(e => e.ToString()));
        log.StableTo(2);
        Assert.Empty(log.UnstableEntries());
    }

    [Theory]
    [InlineData(5UL, 3UL, 7UL)]   // prev is the snapshot point itself
    [InlineData(6UL, 3UL, 7UL)]
    [InlineData(5UL, 2UL, null)]  // wrong term at the snapshot point
    [InlineData(4UL, 3UL, null)]  // prev inside the snapshot is unknown (the node answers from its commit index instead)
    public void AppendAfterSnapshot(ulong prevIndex, ulong prevTerm, ulong? want)
    {
        var log = T.Log(5, 3, T.Entries(6, 3));
        var batch = T.Entries(6, 3, 4).Where(e => e.Index > prevIndex).ToArray();
        Assert.Equal(want, log.MaybeAppend(prevIndex, prevTerm, batch));
        if (want is not null) Assert.Equal(["6@3", "7@4"], Terms(log));
    }

    // Log 1@1 2@1 3@2 4@2 5@2 6@5 7@5.
    [Theory]
    [InlineData(7UL, 5UL, 7UL, 5UL)]
    [InlineData(7UL, 4UL, 5UL, 2UL)] // skip the whole term-5 run
    [InlineData(7UL, 2UL, 5UL, 2UL)]
    [InlineData(7UL, 1UL, 2UL, 1UL)]
    [InlineData(4UL, 1UL, 2UL, 1UL)]
    [InlineData(10UL, 3UL, 5UL, 2UL)] // index beyond the end is clamped
    [InlineData(7UL, 0UL, 0UL, 0UL)]
    public void FindConflictByTerm(ulong index, ulong term, ulong wantIndex, ulong wantTerm)
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 2, 2, 2, 5, 5));
        Assert.Equal((wantIndex, wantTerm), log.FindConflictByTerm(index, term));
    }

    // Nothing below the snapshot point is known, so the hint stops there, even when the snapshot's term is above the
    // probed one.
    [Theory]
    [InlineData(5UL, 3UL)]
    [InlineData(5UL, 1UL)]
    [InlineData(3UL, 1UL)]
    public void FindConflictByTermStopsAtSnapshot(ulong index, ulong term)
    {
        var log = T.Log(3, 2, T.Entries(4, 4, 4));
        Assert.Equal((3UL, 2UL), log.FindConflictByTerm(index, term));
    }

    // Our log ends at 3@2. Paper §5.4.1: later last term wins; with equal last terms, the longer log wins.
    [Theory]
    [InlineData(2UL, 3UL, true)]   // higher term, shorter log: up to date
    [InlineData(9UL, 1UL, false)]  // lower term, longer log: NOT up to date (index-only comparison is the classic bug)
    [InlineData(3UL, 2UL, true)]
    [InlineData(4UL, 2UL, true)]
    [InlineData(2UL, 2UL, false)]
    [InlineData(0UL, 0UL, false)]
    public void IsUpToDate(ulong lastIndex, ulong lastTerm, bool want)
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 2, 2));
        Assert.Equal(want, log.IsUpToDate(lastIndex, lastTerm));
    }

    [Fact]
    public void EmptyLogAcceptsAnyCandidate() => Assert.True(new RaftLog().IsUpToDate(0, 0));

    // Entries of 10 data bytes are 34 bytes each.
    [Theory]
    [InlineData(1UL, 5UL, 0L, 1)]    // always at least one
    [InlineData(1UL, 5UL, 34L, 1)]
    [InlineData(1UL, 5UL, 67L, 1)]
    [InlineData(1UL, 5UL, 68L, 2)]
    [InlineData(1UL, 5UL, 135L, 3)]
    [InlineData(1UL, 5UL, 136L, 4)]
    [InlineData(1UL, 5UL, long.MaxValue, 4)]
    [InlineData(3UL, 100UL, long.MaxValue, 3)] // hi clamped to the end
    [InlineData(6UL, 7UL, long.MaxValue, 0)]
    public void SliceByteLimit(ulong lo, ulong hi, long maxBytes, int want)
    {
        var log = new RaftLog();
        log.LoadStable(Enumerable.Range(1, 5).Select(i => new Entry(1, (ulong)i, EntryType.Normal, new byte[10])).ToList());
        var s = log.Slice(lo, hi, maxBytes);
        Assert.Equal(want, s.Count);
        if (want > 0) Assert.Equal(lo, s[0].Index);
    }

    [Fact]
    public void SliceIntoCompactedRangeThrows()
    {
        var log = T.Log(3, 1, T.Entries(4, 1));
        Assert.Throws<RaftInvariantException>(() => log.Slice(3, 5));
    }

    [Theory]
    [InlineData(0UL, 0UL, 5UL)]
    [InlineData(3UL, 3UL, 5UL)]
    [InlineData(5UL, 5UL, 5UL)]
    public void CompactTo(ulong compactTo, ulong wantSnapIndex, ulong wantLast)
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 2, 2, 3));
        log.CommitTo(5);
        log.AppliedTo(5);
        log.CompactTo(compactTo);
        Assert.Equal(wantSnapIndex, log.SnapshotIndex);
        Assert.Equal(wantSnapIndex + 1, log.FirstIndex);
        Assert.Equal(wantLast, log.LastIndex);
        Assert.Equal(3UL, log.LastTerm);
        if (wantSnapIndex > 0)
        {
            Assert.Null(log.Term(wantSnapIndex - 1));
            Assert.Equal(log.SnapshotTerm, log.Term(wantSnapIndex));
        }
        // Compacting backwards is a no-op.
        log.CompactTo(wantSnapIndex / 2);
        Assert.Equal(wantSnapIndex, log.SnapshotIndex);
    }

    [Fact]
    public void CompactBeyondAppliedThrows()
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 1));
        log.CommitTo(3);
        log.AppliedTo(2);
        Assert.Throws<RaftInvariantException>(() => log.CompactTo(3));
    }

    [Fact]
    public void Restore()
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 1));
        log.CommitTo(1);
        var snap = new Snapshot(new SnapshotMetadata(10, 4, T.Voters(1, 2, 3)), [1, 2]);
        log.Restore(snap);
        Assert.Equal(10UL, log.SnapshotIndex);
        Assert.Equal(10UL, log.LastIndex);
        Assert.Equal(4UL, log.LastTerm);
        Assert.Equal(11UL, log.FirstIndex);
        Assert.Equal(10UL, log.Committed);
        Assert.Equal(10UL, log.Applied);
        Assert.Same(snap, log.PendingSnapshot);
        Assert.Empty(log.UnstableEntries());
        Assert.Null(log.Term(9));
        // Appends continue after it.
        Assert.Equal(11UL, log.MaybeAppend(10, 4, T.Entries(11, 4)));
        log.SnapshotHandedOut();
        Assert.Null(log.PendingSnapshot);
    }

    [Theory]
    [InlineData(2UL, 3UL, long.MaxValue, new ulong[] { 3 })] // only applied+1..commit
    [InlineData(0UL, 3UL, long.MaxValue, new ulong[] { 1, 2, 3 })]
    [InlineData(0UL, 3UL, 1L, new ulong[] { 1 })]             // byte budget, at least one
    [InlineData(3UL, 3UL, long.MaxValue, new ulong[] { })]
    public void NextCommitted(ulong applied, ulong committed, long maxBytes, ulong[] want)
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1, 1, 1));
        log.CommitTo(committed);
        log.AppliedTo(applied);
        Assert.Equal(want, log.NextCommitted(maxBytes).Select(e => e.Index).ToArray());
    }

    [Fact]
    public void CommitAndApplyBounds()
    {
        var log = T.Log(0, 0, T.Entries(1, 1, 1));
        Assert.Throws<RaftInvariantException>(() => log.CommitTo(3));
        log.CommitTo(2);
        log.CommitTo(1); // never moves back
        Assert.Equal(2UL, log.Committed);
        Assert.Throws<RaftInvariantException>(() => log.AppliedTo(3));
        log.AppliedTo(2);
        Assert.Throws<RaftInvariantException>(() => log.AppliedTo(1));
    }

    [Fact]
    public void StoredCommitBeyondLogIsDetected()
    {
        var log = T.Log(0, 0, T.Entries(1, 1));
        Assert.Throws<RaftInvariantException>(() => log.SetCommittedFromStorage(5));
    }

    [Fact]
    public void StableToMarksOnlyThePersistedPrefix()
    {
        // The caller acknowledges persistence up to an index; entries after it must still be handed out (paper Fig. 2:
        // nothing is acknowledged before it is durable).
        var log = new RaftLog();
        log.Append(T.Entries(1, 1, 1, 1));
        log.StableTo(2);
        Assert.Equal(2UL, log.StableIndex);
        Assert.Equal(T.Ids(3), log.UnstableEntries().Select(e => e.Index).ToArray());
        log.StableTo(9); // clamped to the log
        Assert.Equal(3UL, log.StableIndex);
        Assert.Empty(log.UnstableEntries());
    }
}
