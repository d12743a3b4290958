using RaftPS.Consensus;
using RaftPS.Node.Storage;
using static RaftPS.Node.Tests.Storage.Kit;

namespace RaftPS.Node.Tests.Storage;

public class SnapshotTests
{
    [Fact]
    public void SnapshotDeletesOldSegmentsAndSurvivesReopen()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1024);
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            for (ulong i = 1; i <= 300; i += 5) s.Append(new HardState(2, 1, i), Range(i, i + 4, 2));
            s.Sync();
            int before = s.SegmentCount;
            long bytesBefore = s.LogBytes;
            Assert.True(before > 10);

            s.SaveSnapshot(Snap(296, 2));
            Assert.Equal(1, s.SegmentCount); // the entries after the snapshot were carried into a fresh segment
            Assert.Single(Segments(tmp.Path));
            Assert.True(s.LogBytes < bytesBefore / 4, $"{s.LogBytes} vs {bytesBefore}");
            Assert.Equal(300UL, s.LastIndex);

            s.Append(new HardState(3, 1, 296), Range(301, 310, 3));
            s.SaveSnapshot(Snap(305, 3));
            Assert.Equal([Path.Combine(tmp.Path, SnapshotFile.FileName(305))], Snapshots(tmp.Path));
            s.Append(null, Range(311, 312, 3));
            s.Sync();
        }
        RecoveredState r = Reopen(tmp.Path, options);
        Assert.Equal(305UL, r.Snapshot!.Index);
        Assert.Equal(3UL, r.Snapshot.Term);
        Assert.Equal(Snap(305, 3).Data, r.Snapshot.Data);
        Assert.Equal([1UL, 2, 3], r.Snapshot.Metadata.ConfState.Voters);
        AssertEntries(Range(306, 312, 3), r.Entries);
        Assert.Equal(new HardState(3, 1, 296), r.HardState);
        Assert.Empty(r.Warnings);
    }

    /// <summary>The configuration's context (the node keeps member addresses there) survives a restart from a snapshot.</summary>
    [Theory]
    [InlineData(new byte[] { 1, 2, 3, 0, 255 })]
    [InlineData(new byte[0])]
    [InlineData(null)]
    public void SnapshotKeepsTheConfigurationContext(byte[]? context)
    {
        using var tmp = new TempDir();
        var conf = new ConfState([1, 2], [3], [], [], false, context);
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 5), Range(1, 5, 1));
            s.SaveSnapshot(new Snapshot(new SnapshotMetadata(5, 1, conf), [9, 9]));
        }
        RecoveredState r = Reopen(tmp.Path, NoSync);
        ConfState got = r.Snapshot!.Metadata.ConfState;
        Assert.Equal(context ?? [], got.Context ?? []); // no context and an empty one read back alike
        Assert.Equal([1UL, 2UL], got.Voters);
        Assert.Equal([3UL], got.Learners);
    }

    [Fact]
    public void SnapshotAtTheLastIndexLeavesAnEmptyLog()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, Small(1024), out _))
        {
            s.Append(new HardState(1, 1, 50), Range(1, 50, 1));
            s.SaveSnapshot(Snap(50, 1));
            Assert.Equal(1, s.SegmentCount);
        }
        RecoveredState r = Reopen(tmp.Path, Small(1024));
        Assert.Equal(50UL, r.Snapshot!.Index);
        Assert.Empty(r.Entries);
        Assert.Equal(50UL, r.LastIndex);
    }

    [Fact]
    public void OnlyAPrefixOfSegmentsIsDeletedWhenTheTailStartsInAnOlderSegment()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(600, fsync: true);
        var model = new List<Entry>();
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            foreach (List<Entry> batch in new[] { Range(1, 40, 1), Range(20, 25, 2), Range(26, 60, 2) })
            {
                foreach (Entry e in batch) s.Append(null, [e]);
                WalTests.ModelAppend(model, batch);
            }
            int before = s.SegmentCount;
            int syncs = s.SyncCount;
            // index 31 was written in an older segment, so the active one cannot carry the tail by itself
            s.SaveSnapshot(Snap(30, 2));
            Assert.InRange(s.SegmentCount, 2, before - 1);
            Assert.Equal(syncs + 1, s.SyncCount); // what was appended before the snapshot is durable too
            s.Sync();
        }
        RecoveredState r = Reopen(tmp.Path, options);
        AssertEntries(model.Where(e => e.Index > 30).ToList(), r.Entries);
    }

    public static TheoryData<string, ulong, ulong> ResetCases => new()
    {
        // the log has index 15 with another term: what follows diverges from the snapshot and is discarded
        { "term mismatch", 15, 2 },
        // the snapshot is beyond the log (installed from the leader)
        { "beyond the log", 40, 3 },
    };

    [Theory]
    [MemberData(nameof(ResetCases))]
    public void SnapshotThatDoesNotMatchTheLogResetsIt(string name, ulong index, ulong term)
    {
        using var tmp = new TempDir();
        WalOptions options = Small(700);
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            s.Append(new HardState(1, 1, 5), Range(1, 20, 1));
            s.SaveSnapshot(Snap(index, term));
            Assert.Equal(index, s.LastIndex);
            s.Append(new HardState(term, 2, index + 1), Range(index + 1, index + 5, term));
            s.Sync();
        }
        RecoveredState r = Reopen(tmp.Path, options);
        Assert.True(r.Snapshot!.Index == index, name);
        AssertEntries(Range(index + 1, index + 5, term), r.Entries);
        Assert.Empty(r.Warnings);
    }

    [Fact]
    public void CrashAfterSnapshotRenameBeforeLogResetDiscardsTheDivergentLog()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 10), Range(1, 30, 1));
        }
        // the snapshot file made it to disk, the segment that resets the log did not
        SnapshotFile.Write(tmp.Path, Snap(20, 2), fsync: false);
        var logger = new ListLogger();
        using (RaftStorage s = Open(tmp.Path, NoSync, out RecoveredState r, logger))
        {
            Assert.Equal(20UL, r.Snapshot!.Index);
            Assert.Empty(r.Entries);
            Assert.Contains(r.Warnings, w => w.Contains("conflict with snapshot 20"));
            Assert.Equal(1, logger.Warnings);
            Assert.Equal(20UL, s.LastIndex);
            s.Append(new HardState(2, 1, 21), Range(21, 25, 2));
        }
        RecoveredState again = Reopen(tmp.Path, NoSync);
        AssertEntries(Range(21, 25, 2), again.Entries);
        Assert.Empty(again.Warnings);
    }

    [Theory]
    [InlineData(2UL)] // the log diverges from the snapshot: it is reset
    [InlineData(1UL)] // the log matches: its tail is carried into the new segment
    public void CrashBeforeOldSegmentsAreDeletedReplaysTheSame(ulong snapshotTerm)
    {
        using var tmp = new TempDir();
        string backup = tmp.Sub("backup");
        string dir = tmp.Sub("data");
        // without preallocation the copy taken before SaveSnapshot equals the segment as SaveSnapshot sealed it
        WalOptions options = Small(1 << 20, preallocate: false);
        using (RaftStorage s = Open(dir, options, out _))
        {
            s.Append(new HardState(1, 1, 10), Range(1, 20, 1));
            s.Sync();
            CopyDirectory(dir, backup);
            s.SaveSnapshot(Snap(15, snapshotTerm));
        }
        // the new segment and the snapshot are durable, the deletion of the old segment is not
        foreach (string old in Segments(backup)) File.Copy(old, Path.Combine(dir, Path.GetFileName(old)));
        Assert.Equal(2, Segments(dir).Length);
        List<Entry> expected = snapshotTerm == 1 ? Range(16, 20, 1) : [];
        using (RaftStorage s = Open(dir, options, out RecoveredState r))
        {
            AssertEntries(expected, r.Entries);
            Assert.Empty(r.Warnings);
            Assert.Equal(1, s.SegmentCount); // the open finished the deletion
        }
        AssertEntries(expected, Reopen(dir, options).Entries);
    }

    [Fact]
    public void CrashAfterSnapshotBeyondTheLogKeepsAppendsWorking()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 10), Range(1, 10, 1));
        }
        SnapshotFile.Write(tmp.Path, Snap(50, 2), fsync: false);
        using (RaftStorage s = Open(tmp.Path, NoSync, out RecoveredState r))
        {
            Assert.Empty(r.Entries);
            Assert.Equal(50UL, r.LastIndex);
            s.Append(null, [E(51, 2)]);
        }
        AssertEntries([E(51, 2)], Reopen(tmp.Path, NoSync).Entries);
    }

    [Fact]
    public void CorruptNewestSnapshotFallsBackWhenTheLogCoversTheGap()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, NoSync, out _))
        {
            s.Append(new HardState(1, 1, 30), Range(1, 30, 1));
        }
        SnapshotFile.Write(tmp.Path, Snap(10, 1), fsync: false);
        string newest = SnapshotFile.Write(tmp.Path, Snap(20, 1), fsync: false);
        FlipByte(newest, new FileInfo(newest).Length / 2);

        var logger = new ListLogger();
        RecoveredState r = Reopen(tmp.Path, NoSync, logger);
        Assert.Equal(10UL, r.Snapshot!.Index);
        AssertEntries(Range(11, 30, 1), r.Entries);
        Assert.Contains(r.Warnings, w => w.Contains(newest) && w.Contains("checksum"));
        Assert.True(logger.Warnings >= 1);
        Assert.True(File.Exists(newest + ".corrupt"));
        Assert.False(File.Exists(newest));
    }

    [Fact]
    public void CorruptNewestSnapshotThrowsWhenTheLogNoLongerCoversTheGap()
    {
        using var tmp = new TempDir();
        string older = Path.Combine(tmp.Path, "older.snap");
        using (RaftStorage s = Open(tmp.Path, Small(600), out _))
        {
            s.Append(new HardState(1, 1, 100), Range(1, 100, 1));
            s.SaveSnapshot(Snap(40, 1));
            File.Copy(Path.Combine(tmp.Path, SnapshotFile.FileName(40)), older);
            s.SaveSnapshot(Snap(90, 1)); // deletes snapshot 40 and the log up to 90
        }
        File.Move(older, Path.Combine(tmp.Path, SnapshotFile.FileName(40)));
        string newest = Path.Combine(tmp.Path, SnapshotFile.FileName(90));
        FlipByte(newest, 30);

        StorageRecoveryException ex = Assert.Throws<StorageRecoveryException>(() => Reopen(tmp.Path, Small(600)));
        Assert.Contains(newest, ex.Message);
        Assert.Contains("40", ex.Message);
        Assert.True(File.Exists(newest), "a failed recovery must not touch the files");
    }

    [Fact]
    public void MissingSnapshotWithCompactedLogThrows()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, Small(600), out _))
        {
            s.Append(new HardState(1, 1, 100), Range(1, 100, 1));
            s.SaveSnapshot(Snap(90, 1));
        }
        File.Delete(Path.Combine(tmp.Path, SnapshotFile.FileName(90)));
        StorageRecoveryException ex = Assert.Throws<StorageRecoveryException>(() => Reopen(tmp.Path, Small(600)));
        Assert.Contains("entries 1..90 are gone", ex.Message);
    }

    [Fact]
    public void SnapshotFileRoundTripsMetadataAndData()
    {
        using var tmp = new TempDir();
        var conf = new ConfState([1, 2, 3], [4], [1, 2, 5], [6, 7], AutoLeave: true);
        var data = new byte[100_000];
        new Random(5).NextBytes(data);
        var snap = new Snapshot(new SnapshotMetadata(77, 9, conf), data);
        string path = SnapshotFile.Write(tmp.Path, snap, fsync: true);
        Assert.Equal(SnapshotFile.FileName(77), Path.GetFileName(path));
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp"));
        Snapshot back = SnapshotFile.Read(path, 77);
        Assert.Equal(77UL, back.Index);
        Assert.Equal(9UL, back.Term);
        Assert.Equal(conf.Voters, back.Metadata.ConfState.Voters);
        Assert.Equal(conf.Learners, back.Metadata.ConfState.Learners);
        Assert.Equal(conf.VotersOutgoing, back.Metadata.ConfState.VotersOutgoing);
        Assert.Equal(conf.LearnersNext, back.Metadata.ConfState.LearnersNext);
        Assert.True(back.Metadata.ConfState.AutoLeave);
        Assert.Equal(data, back.Data);
    }

    [Fact]
    public void EveryDamagedSnapshotByteIsDetected()
    {
        using var tmp = new TempDir();
        var snap = new Snapshot(new SnapshotMetadata(5, 2, new ConfState([1, 2], [3], [], [])), [1, 2, 3, 4, 5, 6, 7, 8]);
        string path = SnapshotFile.Write(tmp.Path, snap, fsync: false);
        long length = new FileInfo(path).Length;
        for (long offset = 0; offset < length; offset++)
        {
            FlipByte(path, offset);
            Assert.Throws<InvalidDataException>(() => SnapshotFile.Read(path, 5));
            FlipByte(path, offset);
        }
        for (long cut = 0; cut < length; cut++)
        {
            string copy = tmp.Sub("cut.snap");
            File.Copy(path, copy, overwrite: true);
            SetLength(copy, cut);
            Assert.Throws<InvalidDataException>(() => SnapshotFile.Read(copy, 5));
        }
        Assert.Equal(snap.Data, SnapshotFile.Read(path, 5).Data);
    }

    [Fact]
    public void LeftoverTempFilesAreRemovedOnOpen()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.Sub(SnapshotFile.FileName(9) + ".tmp"), "partial");
        File.WriteAllText(tmp.Sub("wal-0000000000000002.log.tmp"), "partial");
        using (Open(tmp.Path, NoSync, out RecoveredState r))
        {
            Assert.Null(r.Snapshot);
        }
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp"));
    }
}
