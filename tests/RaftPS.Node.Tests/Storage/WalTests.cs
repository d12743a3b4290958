using RaftPS.Consensus;
using RaftPS.Node.Storage;
using static RaftPS.Node.Tests.Storage.Kit;

namespace RaftPS.Node.Tests.Storage;

public class WalTests
{
    public static TheoryData<bool, bool> FsyncAndPreallocate => new() { { true, true }, { true, false }, { false, true }, { false, false } };

    [Theory]
    [MemberData(nameof(FsyncAndPreallocate))]
    public void HardStateAndEntriesSurviveReopen(bool fsync, bool preallocate)
    {
        using var tmp = new TempDir();
        var options = new WalOptions { Fsync = fsync, Preallocate = preallocate, SegmentBytes = 1 << 16 };
        var entries = new List<Entry>
        {
            new(1, 1, EntryType.Noop, Entry.Empty),
            E(2, 1, 0),
            E(3, 1, 1),
            new(2, 4, EntryType.ConfChange, [9, 8, 7]),
            E(5, 2, 5000),
        };
        using (RaftStorage s = Open(tmp.Path, options, out RecoveredState fresh))
        {
            Assert.Empty(fresh.Entries);
            Assert.Null(fresh.Snapshot);
            Assert.True(fresh.HardState.IsEmpty);
            s.Append(new HardState(1, 1, 0), entries.Take(3).ToList());
            s.Append(new HardState(2, 3, 3), entries.Skip(3).ToList());
            s.Sync();
            Assert.Equal(5UL, s.LastIndex);
        }
        var logger = new ListLogger();
        RecoveredState r = Reopen(tmp.Path, options, logger);
        Assert.Equal(new HardState(2, 3, 3), r.HardState);
        AssertEntries(entries, r.Entries);
        Assert.Empty(r.Warnings);
        Assert.Equal(0, logger.Warnings);

        // appending after recovery continues the same segment and log
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            s.Append(new HardState(2, 3, 5), [E(6, 2)]);
            s.Sync();
        }
        r = Reopen(tmp.Path, options);
        AssertEntries([.. entries, E(6, 2)], r.Entries);
        Assert.Equal(new HardState(2, 3, 5), r.HardState);
    }

    /// <summary>Applies the documented Append semantics to a plain list: the reference model for replay.</summary>
    internal static void ModelAppend(List<Entry> log, IReadOnlyList<Entry> batch)
    {
        if (batch.Count == 0) return;
        int keep = log.FindIndex(e => e.Index >= batch[0].Index);
        if (keep >= 0) log.RemoveRange(keep, log.Count - keep);
        log.AddRange(batch);
    }

    // Each batch is (first index, count, term); a first index at or below the end overwrites from there.
    public static TheoryData<string, (ulong First, int Count, ulong Term)[]> OverwriteCases => new()
    {
        { "overwrite tail", [(1, 10, 1), (6, 3, 2)] },
        { "overwrite everything", [(1, 10, 1), (1, 4, 2)] },
        { "overwrite last only", [(1, 10, 1), (10, 1, 2)] },
        { "plain appends", [(1, 5, 1), (6, 5, 1), (11, 2, 2)] },
        { "repeated truncations", [(1, 20, 1), (15, 10, 2), (12, 2, 3), (14, 10, 3), (5, 1, 4)] },
        { "shorter then longer", [(1, 30, 1), (10, 1, 2), (11, 40, 2)] },
    };

    [Theory]
    [MemberData(nameof(OverwriteCases))]
    public void OverwritesReplayAsTruncation(string name, (ulong First, int Count, ulong Term)[] batches)
    {
        foreach (long segmentBytes in new long[] { 1 << 20, 300 })
        {
            using var tmp = new TempDir();
            var model = new List<Entry>();
            WalOptions options = Small(segmentBytes);
            using (RaftStorage s = Open(tmp.Path, options, out _))
            {
                foreach ((ulong first, int count, ulong term) in batches)
                {
                    List<Entry> batch = Range(first, first + (ulong)count - 1, term);
                    s.Append(null, batch);
                    ModelAppend(model, batch);
                    Assert.Equal(model[^1].Index, s.LastIndex);
                }
                s.Sync();
            }
            RecoveredState r = Reopen(tmp.Path, options);
            Assert.True(r.Entries.Count == model.Count, $"{name} with {segmentBytes}-byte segments");
            AssertEntries(model, r.Entries);
        }
    }

    [Fact]
    public void SegmentsRollOverAndReplayInOrder()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1024);
        var all = new List<Entry>();
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            for (ulong i = 1; i <= 300; i += 3)
            {
                List<Entry> batch = Range(i, i + 2, 1 + i / 100, 40);
                s.Append(new HardState(1 + i / 100, 1, i), batch);
                all.AddRange(batch);
            }
            s.Sync();
            Assert.True(s.SegmentCount > 10, $"only {s.SegmentCount} segments");
            Assert.Equal(s.SegmentCount, Segments(tmp.Path).Length);
        }
        string[] files = Segments(tmp.Path);
        for (int i = 0; i < files.Length; i++)
        {
            Assert.Equal($"wal-{i + 1:D16}.log", Path.GetFileName(files[i]));
            if (i < files.Length - 1)
            {
                // sealed segments are cut to their records, the last one keeps its preallocated space
                Assert.InRange(new FileInfo(files[i]).Length, 1024, 1024 + 3 * 80);
            }
        }
        RecoveredState r = Reopen(tmp.Path, options);
        AssertEntries(all, r.Entries);
        Assert.Equal(new HardState(3, 1, 298), r.HardState);
    }

    [Fact]
    public void EverySegmentStartsWithTheHardState()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(512);
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            s.Append(new HardState(7, 3, 0), [E(1, 7)]);
            // no further hard state records: later segments must still carry it in their headers
            for (ulong i = 2; i <= 100; i++) s.Append(null, [E(i, 7)]);
            s.Append(new HardState(7, 3, 50), []);
            for (ulong i = 101; i <= 150; i++) s.Append(null, [E(i, 7)]);
            s.SaveSnapshot(Snap(140, 7)); // deletes every segment that held a hard state record
            s.Sync();
        }
        RecoveredState r = Reopen(tmp.Path, options);
        Assert.Equal(new HardState(7, 3, 50), r.HardState);
        Assert.Equal(140UL, r.Snapshot!.Index);
        AssertEntries(Range(141, 150, 7), r.Entries);
    }

    [Fact]
    public void SyncIsGroupCommitAndNoOpWhenIdle()
    {
        using var tmp = new TempDir();
        using RaftStorage s = Open(tmp.Path, Small(1 << 20, fsync: true), out _);
        s.Sync();
        Assert.Equal(0, s.SyncCount);
        s.Append(new HardState(1, 1, 0), [E(1, 1)]);
        s.Append(null, [E(2, 1)]);
        s.Append(new HardState(1, 1, 2), [E(3, 1)]);
        s.Sync();
        Assert.Equal(1, s.SyncCount);
        s.Sync();
        s.Append(new HardState(1, 1, 2), []); // unchanged hard state: nothing to write
        s.Sync();
        Assert.Equal(1, s.SyncCount);
        s.Append(null, [E(4, 1)]);
        s.Sync();
        Assert.Equal(2, s.SyncCount);
    }

    public static TheoryData<string, Action<RaftStorage>> InvalidAppends => new()
    {
        { "gap after last index", s => s.Append(null, [E(12, 1)]) },
        { "index zero", s => s.Append(null, [E(0, 1)]) },
        { "not consecutive", s => s.Append(null, [E(11, 1), E(13, 1)]) },
        { "commit beyond log", s => s.Append(new HardState(1, 1, 11), []) },
        { "commit beyond truncated log", s => s.Append(new HardState(1, 1, 8), [E(5, 2), E(6, 2)]) },
        { "truncating committed entries", s => s.Append(null, [E(2, 2)]) },
        { "rewrite below snapshot", s => { s.SaveSnapshot(Snap(8, 1)); s.Append(null, [E(7, 2)]); } },
        { "older snapshot", s => { s.SaveSnapshot(Snap(8, 1)); s.SaveSnapshot(Snap(7, 1)); } },
        { "same index other term", s => { s.SaveSnapshot(Snap(8, 1)); s.SaveSnapshot(Snap(8, 2)); } },
    };

    [Theory]
    [MemberData(nameof(InvalidAppends))]
    public void InvalidInputIsRejectedWithoutWriting(string name, Action<RaftStorage> act)
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 3), Range(1, 10, 1));
            Assert.Throws<ArgumentException>(() => act(s));
            Assert.True(s.LastIndex >= 8, name);
            s.Append(null, [E(11, 1)]); // still usable
        }
        RecoveredState r = Reopen(tmp.Path, NoSync);
        Assert.Equal(11UL, r.LastIndex);
    }

    [Fact]
    public void EntriesCoveredBySnapshotAreSkipped()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(null, Range(1, 10, 1));
            s.SaveSnapshot(Snap(8, 1));
            s.Append(null, Range(7, 12, 1)); // 7 and 8 are covered; 9.. overwrite
        }
        RecoveredState r = Reopen(tmp.Path, NoSync);
        Assert.Equal(8UL, r.Snapshot!.Index);
        AssertEntries(Range(9, 12, 1), r.Entries);
    }

    [Fact]
    public void SecondOpenOfTheSameDirectoryFails()
    {
        using var tmp = new TempDir();
        using RaftStorage s = Open(tmp.Path, NoSync, out _);
        IOException ex = Assert.Throws<IOException>(() => Open(tmp.Path, NoSync, out _));
        Assert.Contains(tmp.Path, ex.Message);
    }

    [Fact]
    public void UseAfterDisposeThrows()
    {
        using var tmp = new TempDir();
        RaftStorage s = Open(tmp.Path, NoSync, out _);
        s.Dispose();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s.Append(null, [E(1, 1)]));
        Assert.Throws<ObjectDisposedException>(() => s.Sync());
    }

    [Fact]
    public void DisposeFlushesBufferedRecords()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 2), Range(1, 3, 1));
        }
        RecoveredState r = Reopen(tmp.Path, NoSync);
        AssertEntries(Range(1, 3, 1), r.Entries);
    }
}

public class SegmentWriterTests
{
    [Fact]
    public void SealCutsThePreallocatedTail()
    {
        using var tmp = new TempDir();
        string path = tmp.Sub("wal-0000000000000001.log");
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        using (var w = new SegmentWriter(handle, path, 1, salt: 7, 0, new byte[64], preallocateLimit: 1 << 16, hooks: null))
        {
            Assert.Equal(1 << 16, new FileInfo(path).Length);
            Entry e = Kit.E(1, 1, 100); // larger than the buffer: the buffer grows
            int size = WalFormat.EntryRecordSize(e);
            WalFormat.WriteEntry(w.Reserve(size), e);
            w.Advance(size);
            w.Seal(fsync: true);
            Assert.Equal(size, w.Length);
        }
        Assert.Equal(WalFormat.EntryRecordSize(Kit.E(1, 1, 100)), new FileInfo(path).Length);
    }

    [Fact]
    public void SpaceIsReservedInChunksAheadOfTheWrites()
    {
        using var tmp = new TempDir();
        string path = tmp.Sub("wal-0000000000000001.log");
        long limit = 3 * SegmentWriter.PreallocateChunk;
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        using var w = new SegmentWriter(handle, path, 1, salt: 7, 0, new byte[1 << 20], limit, hooks: null);
        Assert.Equal(SegmentWriter.PreallocateChunk, new FileInfo(path).Length);
        var block = new byte[1 << 20];
        for (int i = 0; i < 3; i++) w.WriteRaw(block);
        // past half of the reserved space: the next chunk is reserved before the write
        Assert.Equal(3 * block.Length + SegmentWriter.PreallocateChunk, new FileInfo(path).Length);
        for (int i = 0; i < 12; i++) w.WriteRaw(block);
        Assert.Equal(limit + 3 * block.Length, new FileInfo(path).Length); // never more than the segment size, then plain growth
    }

    [Fact]
    public void PositionIndexFollowsTruncations()
    {
        var p = new PositionIndex();
        p.Reset(10);
        for (ulong i = 10; i < 20; i++) p.Record(i, (long)i * 100);
        p.Record(15, 5); // overwrite from 15
        Assert.True(p.TryGet(14, out long o14) && o14 == 1400);
        Assert.True(p.TryGet(15, out long o15) && o15 == 5);
        Assert.False(p.TryGet(16, out _));
        p.Record(8, 7); // below the segment's first index: everything before is superseded
        Assert.False(p.TryGet(10, out _));
        Assert.True(p.TryGet(8, out long o8) && o8 == 7);
        p.Record(9, 9);
        p.Rebase(9, 100);
        Assert.False(p.TryGet(8, out _));
        Assert.True(p.TryGet(9, out long o9) && o9 == 109);
        Assert.Throws<InvalidOperationException>(() => p.Record(11, 0));
    }

    [Fact]
    public void TermRunsAnswerTermAtAnyIndex()
    {
        var t = new TermRuns();
        t.Reset(0, 0);
        for (ulong i = 1; i <= 30; i++) t.Append(i, 1 + i / 10); // terms 1 (1..9), 2 (10..19), 3 (20..29), 4 (30)
        Assert.Equal(0UL, t.TermAt(0));
        Assert.Equal(1UL, t.TermAt(9));
        Assert.Equal(2UL, t.TermAt(10));
        Assert.Equal(4UL, t.TermAt(30));
        t.TruncateFrom(15);
        for (ulong i = 15; i <= 20; i++) t.Append(i, 5);
        Assert.Equal(2UL, t.TermAt(14));
        Assert.Equal(5UL, t.TermAt(15));
        t.TrimBefore(12);
        Assert.Equal(2UL, t.TermAt(12));
        Assert.Equal(5UL, t.TermAt(20));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.TermAt(11));
    }
}
