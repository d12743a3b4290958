using RaftPS.Consensus;
using RaftPS.Node.Storage;
using static RaftPS.Node.Tests.Storage.Kit;

namespace RaftPS.Node.Tests.Storage;

public class RecoveryTests
{
    /// <summary>
    /// Writes entries 1..count one record each into a single segment, in one batch, and syncs; returns each record's
    /// [start, end). A clean close then leaves a sync mark after them that vouches for every one; a crash
    /// (<paramref name="crash"/>) leaves none, so the batch cannot be told from one that never reached its sync.
    /// </summary>
    private static List<(long Start, long End)> WriteLog(string dir, WalOptions options, int count, int size = 30, bool crash = false)
    {
        var offsets = new List<(long, long)>();
        RaftStorage s = Open(dir, options, out _);
        s.Append(new HardState(1, 1, 0), []);
        for (ulong i = 1; i <= (ulong)count; i++)
        {
            long start = s.LogBytes;
            s.Append(null, [E(i, 1, size)]);
            offsets.Add((start, s.LogBytes));
        }
        s.Sync();
        if (crash) s.CloseAbruptly();
        else s.Dispose();
        return offsets;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TornLastRecordIsCutAtEveryLength(bool preallocate)
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1 << 16, preallocate: preallocate);
        string source = tmp.Sub("source");
        List<(long Start, long End)> records = WriteLog(source, options, 6);
        (long start, long end) = records[^1];
        string segment = Path.GetFileName(Segments(source).Single());
        for (long cut = start; cut < end; cut++)
        {
            string dir = tmp.Sub("cut" + cut);
            CopyDirectory(source, dir);
            SetLength(Path.Combine(dir, segment), cut);

            var logger = new ListLogger();
            using (RaftStorage s = Open(dir, options, out RecoveredState r, logger))
            {
                AssertEntries(Range(1, 5, 1, 30), r.Entries);
                Assert.Equal(new HardState(1, 1, 0), r.HardState);
                if (cut == start)
                {
                    Assert.Empty(r.Warnings); // the file simply ends after a whole record
                }
                else
                {
                    Assert.Single(r.Warnings);
                    Assert.Contains($"offset {start}", r.Warnings[0]);
                    Assert.Equal(1, logger.Warnings);
                }
                // the cut is durable: new records after it replay cleanly
                s.Append(null, [E(6, 2, 5)]);
            }
            RecoveredState again = Reopen(dir, options);
            AssertEntries([.. Range(1, 5, 1, 30), E(6, 2, 5)], again.Entries);
            Assert.Empty(again.Warnings);
            Directory.Delete(dir, recursive: true);
        }
    }

    public static TheoryData<string, int> MiddleRecordBytes => new()
    {
        { "crc", 1 },
        { "length low byte", 4 },
        { "length high byte", 7 },
        { "type", 8 },
        { "term", 10 },
        { "index", 18 },
        { "data", 30 },
    };

    [Theory]
    [MemberData(nameof(MiddleRecordBytes))]
    public void FlippedByteInMiddleRecordThrowsWithFileAndOffset(string field, int byteInRecord)
    {
        using var tmp = new TempDir();
        List<(long Start, long End)> records = WriteLog(tmp.Path, Small(1 << 16), 9);
        string segment = Segments(tmp.Path).Single();
        long start = records[4].Start;
        FlipByte(segment, start + byteInRecord);

        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(1 << 16)));
        Assert.Equal(segment, ex.File);
        Assert.True(ex.Offset == start, $"{field}: offset {ex.Offset}, record starts at {start}");
        Assert.Contains(segment, ex.Message);
        Assert.Contains(start.ToString(), ex.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DamageInANonLastSegmentThrows(bool cutInsteadOfFlip)
    {
        using var tmp = new TempDir();
        WalOptions options = Small(400);
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            for (ulong i = 1; i <= 60; i++) s.Append(new HardState(1, 1, i - 1), [E(i, 1)]);
        }
        string[] segments = Segments(tmp.Path);
        Assert.True(segments.Length >= 3);
        string victim = segments[1];
        long length = new FileInfo(victim).Length;
        if (cutInsteadOfFlip)
        {
            SetLength(victim, length - 3); // its last record loses its end, as a torn write would
        }
        else
        {
            FlipByte(victim, length - 2);
        }
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, options));
        Assert.Equal(victim, ex.File);
        Assert.InRange(ex.Offset, 1, length - 1);
    }

    [Fact]
    public void ZerosAfterTheRecordsOfANonLastSegmentAreCorruption()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, Small(400), out _))
        {
            for (ulong i = 1; i <= 30; i++) s.Append(null, [E(i, 1)]);
        }
        string[] segments = Segments(tmp.Path);
        long length = new FileInfo(segments[0]).Length;
        using (var fs = new FileStream(segments[0], FileMode.Append)) fs.Write(new byte[100]);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(400)));
        Assert.Equal(segments[0], ex.File);
        Assert.Equal(length, ex.Offset);
    }

    [Fact]
    public void MissingSegmentThrows()
    {
        using var tmp = new TempDir();
        using (RaftStorage s = Open(tmp.Path, Small(300), out _))
        {
            for (ulong i = 1; i <= 40; i++) s.Append(null, [E(i, 1)]);
        }
        string[] segments = Segments(tmp.Path);
        File.Delete(segments[1]);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(300)));
        Assert.Equal(segments[1], ex.File);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ImpossibleLengthIsCorruptionInDurableBytesAndATornTailOtherwise(bool crash)
    {
        using var tmp = new TempDir();
        List<(long Start, long End)> records = WriteLog(tmp.Path, Small(1 << 16), 3, crash: crash);
        string segment = Segments(tmp.Path).Single();
        using (var fs = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = records[^1].Start + 7; // top byte of the length field
            fs.WriteByte(0x7F);
        }
        if (crash)
        {
            // No mark vouches for the last batch: a power loss may leave any bytes there, even a huge length.
            RecoveredState r = Reopen(tmp.Path, Small(1 << 16));
            AssertEntries(Range(1, 2, 1, 30), r.Entries);
            Assert.Contains("impossible record length", Assert.Single(r.Warnings));
            return;
        }
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(1 << 16)));
        Assert.Equal(records[^1].Start, ex.Offset);
        Assert.Contains("impossible record length", ex.Message);
        Assert.Contains("sync mark", ex.Message);
    }

    [Fact]
    public void ZeroFilledTailIsATornTail()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1 << 16, preallocate: false);
        string source = tmp.Sub("source");
        List<(long Start, long End)> records = WriteLog(source, options, 6, crash: true);
        string name = Path.GetFileName(Segments(source).Single());
        (long start, long end) = records[^1];

        // (1) the whole last record reads back as zeros, (2) only its second half does, (3) zeros appended after it
        var cases = new (string Name, Action<string> Damage, int Expected, bool Warns)[]
        {
            ("record zeroed", p => ZeroRange(p, start, end), 5, false),
            ("second half zeroed", p => ZeroRange(p, (start + end) / 2, end), 5, true),
            ("zeros appended", p => { using var fs = new FileStream(p, FileMode.Append); fs.Write(new byte[4096]); }, 6, false),
            ("header zeroed, payload kept", p => ZeroRange(p, start, start + 9), 5, true),
        };
        foreach ((string caseName, Action<string> damage, int expected, bool warns) in cases)
        {
            string dir = tmp.Sub(caseName.Replace(' ', '_'));
            CopyDirectory(source, dir);
            damage(Path.Combine(dir, name));
            RecoveredState r = Reopen(dir, options);
            Assert.True(r.Entries.Count == expected, caseName);
            AssertEntries(Range(1, (ulong)expected, 1, 30), r.Entries);
            Assert.True(warns == (r.Warnings.Count == 1), $"{caseName}: {string.Join("; ", r.Warnings)}");
        }
    }

    [Fact]
    public void ZerosInTheMiddleFollowedByRecordsAreCorruptionWhenASyncMarkVouchesForThem()
    {
        using var tmp = new TempDir();
        List<(long Start, long End)> records = WriteLog(tmp.Path, Small(1 << 16), 8);
        string segment = Segments(tmp.Path).Single();
        ZeroRange(segment, records[3].Start, records[3].End);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(1 << 16)));
        Assert.Equal(records[3].Start, ex.Offset);
        Assert.Contains($"sync mark at offset {records[^1].End}", ex.Message); // the one the clean close wrote
    }

    /// <summary>
    /// A power loss during a batch: the device persisted a later page of it but not an earlier one, so zeros are
    /// followed by valid records. No sync mark vouches for them (it would have been written after their sync), so
    /// they are cut: they were never acknowledged. The cut is durable, so the stale records cannot come back.
    /// </summary>
    [Fact]
    public void ZerosFollowedByValidRecordsOfAnUnvouchedBatchAreCut()
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1 << 16, preallocate: false);
        List<(long Start, long End)> records = WriteLog(tmp.Path, options, 8, crash: true);
        string segment = Segments(tmp.Path).Single();
        ZeroRange(segment, records[3].Start, records[3].End);
        var logger = new ListLogger();
        using (RaftStorage s = Open(tmp.Path, options, out RecoveredState r, logger))
        {
            AssertEntries(Range(1, 3, 1, 30), r.Entries);
            Assert.Contains($"offset {records[3].Start}", Assert.Single(r.Warnings));
            Assert.Equal(records[3].Start, new FileInfo(segment).Length);
            s.Append(null, [E(4, 2, 5)]);
        }
        RecoveredState again = Reopen(tmp.Path, options);
        AssertEntries([.. Range(1, 3, 1, 30), E(4, 2, 5)], again.Entries);
        Assert.Empty(again.Warnings);
    }

    /// <summary>
    /// Bytes that look like a sync mark inside an entry's data (a client may store anything) cannot vouch for damage
    /// before them: a mark counts only with its segment's random salt. With the right salt the same bytes do vouch,
    /// which shows the test can fail.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OnlyASyncMarkWithTheSegmentsSaltVouches(bool rightSalt)
    {
        using var tmp = new TempDir();
        WalOptions options = Small(1 << 16);
        string segment;
        long damagedAt;
        using (RaftStorage s = Open(tmp.Path, options, out _))
        {
            s.Append(null, Range(1, 3, 1));
            s.Sync();
            damagedAt = s.LogBytes + WalFormat.SyncMarkRecordSize; // the next batch: its mark, then entry 4
            segment = Segments(tmp.Path).Single();
            byte[] head = File.ReadAllBytes(segment);
            ulong salt = WalFormat.ReadSegmentHeader(head.AsSpan(WalFormat.HeaderSize, WalFormat.SegmentHeaderSize))!.Value.Salt;
            Entry four = E(4, 1);
            long dataAt = damagedAt + WalFormat.EntryRecordSize(four) + WalFormat.HeaderSize + WalFormat.EntryFixedSize;
            var forged = new byte[WalFormat.SyncMarkRecordSize];
            WalFormat.WriteSyncMark(forged, rightSalt ? salt : salt ^ 1, dataAt);
            s.Append(null, [four, new Entry(1, 5, EntryType.Normal, forged)]);
            s.Sync();
            s.CloseAbruptly(); // no clean-close mark
        }
        ZeroRange(segment, damagedAt, damagedAt + 9); // entry 4's header
        if (rightSalt)
        {
            WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, options));
            Assert.Equal(damagedAt, ex.Offset);
            return;
        }
        RecoveredState r = Reopen(tmp.Path, options);
        AssertEntries(Range(1, 3, 1), r.Entries);
        Assert.Contains("torn", Assert.Single(r.Warnings));
    }

    [Fact]
    public void DamagedSegmentHeaderThrows()
    {
        using var tmp = new TempDir();
        WriteLog(tmp.Path, Small(1 << 16), 3);
        string segment = Segments(tmp.Path).Single();
        FlipByte(segment, 20);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, Small(1 << 16)));
        Assert.Equal(0, ex.Offset);
    }

    /// <summary>
    /// A crash before Sync: the disk holds the synced records plus any prefix of the bytes written after them.
    /// Recovery must return the synced log plus a prefix of the unsynced batch, never a hole or a mix.
    /// </summary>
    [Fact]
    public void CrashBeforeSyncLeavesAPrefixConsistentLog()
    {
        using var tmp = new TempDir();
        var options = new WalOptions { Fsync = true, SegmentBytes = 4L << 20 }; // one segment holds it all
        string live = tmp.Sub("live");
        List<Entry> synced = Range(1, 100, 1, 50);
        List<Entry> unsynced = Range(101, 2400, 2, 700); // ~1.6 MB: part of it leaves the 1 MiB write buffer before Sync
        var hs1 = new HardState(1, 1, 100);
        var hs2 = new HardState(2, 1, 2400);
        string snapshotOfDisk = tmp.Sub("at-crash");
        long syncedBytes;
        using (RaftStorage s = Open(live, options, out _))
        {
            s.Append(hs1, synced);
            s.Sync();
            syncedBytes = s.LogBytes;
            s.Append(hs2, unsynced);
            CopyDirectory(live, snapshotOfDisk); // "pull the plug" here: whatever reached the files so far
            s.Sync();
        }
        string segment = Path.GetFileName(Segments(snapshotOfDisk).Single());
        long onDisk = new FileInfo(Path.Combine(snapshotOfDisk, segment)).Length;
        Assert.True(onDisk > syncedBytes);

        // The kernel may have persisted any prefix of the unsynced bytes: try a spread of cut points.
        var rng = new Random(20240601);
        var cuts = new List<long> { syncedBytes, syncedBytes + 1, syncedBytes + 5000, onDisk };
        for (int i = 0; i < 8; i++) cuts.Add(syncedBytes + (long)(rng.NextDouble() * (Math.Min(onDisk, syncedBytes + 1_700_000) - syncedBytes)));
        foreach (long cut in cuts)
        {
            string dir = tmp.Sub("cut" + cut);
            CopyDirectory(snapshotOfDisk, dir);
            string file = Path.Combine(dir, segment);
            if (cut < new FileInfo(file).Length) ZeroRange(file, cut, Math.Min(new FileInfo(file).Length, cut + 4_000_000));
            RecoveredState r = Reopen(dir, options with { Fsync = false }); // recovery's own fsyncs are not under test here
            Assert.True(r.Entries.Count >= synced.Count, $"cut {cut}: synced entries lost");
            AssertEntries(synced, r.Entries.Take(synced.Count).ToList());
            int extra = r.Entries.Count - synced.Count;
            AssertEntries(unsynced.Take(extra).ToList(), r.Entries.Skip(synced.Count).ToList());
            Assert.True(r.HardState == hs1 || (r.HardState == hs2 && extra == unsynced.Count), $"cut {cut}: hard state {r.HardState} with {extra} new entries");
            Directory.Delete(dir, recursive: true);
        }
        // and after the real Sync everything is there
        RecoveredState full = Reopen(live, options);
        Assert.Equal(2400, full.Entries.Count);
        Assert.Equal(hs2, full.HardState);
    }

    /// <summary>Writes a segment file record by record, to build logs the writer itself refuses to produce.</summary>
    private sealed class SegmentBuilder(ulong seq, ulong lastIndex, HardState hs)
    {
        private readonly List<byte[]> _records = [Header(seq, lastIndex, hs)];

        private static byte[] Header(ulong seq, ulong lastIndex, HardState hs)
        {
            var r = new byte[WalFormat.HeaderSize + WalFormat.SegmentHeaderSize];
            WalFormat.WriteSegmentHeader(r, new SegmentHeader(seq, lastIndex, lastIndex == 0 ? 0UL : 1UL, hs, 0x5EED));
            return r;
        }

        public SegmentBuilder Entry(ulong index, ulong term)
        {
            Entry e = E(index, term);
            var r = new byte[WalFormat.EntryRecordSize(e)];
            WalFormat.WriteEntry(r, e);
            _records.Add(r);
            return this;
        }

        public SegmentBuilder State(HardState hs)
        {
            var r = new byte[WalFormat.HeaderSize + WalFormat.HardStateSize];
            WalFormat.WriteHardState(r, hs);
            _records.Add(r);
            return this;
        }

        public long OffsetOf(int record) => _records.Take(record).Sum(r => (long)r.Length);

        public string WriteTo(string dir)
        {
            string path = Path.Combine(dir, WalFormat.SegmentFileName(seq));
            File.WriteAllBytes(path, _records.SelectMany(r => r).ToArray());
            return path;
        }
    }

    /// <summary>Segments written before sync marks existed (format 1: no salt) are still read and appended to.</summary>
    [Fact]
    public void FormatOneSegmentsAreStillReadAndContinued()
    {
        using var tmp = new TempDir();
        var header = new byte[WalFormat.HeaderSize + 52]; // format 1 payload: version, seq, last index, last term, hard state
        var p = header.AsSpan(WalFormat.HeaderSize);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(p, 1); // format 1
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(p[4..], 1); // seq; last index, term and hard state 0
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), 52);
        header[8] = (byte)RecordType.SegmentHeader;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, WalFormat.ComputeCrc(header, 52));
        var records = new List<byte>(header);
        foreach (Entry e in Range(1, 3, 1))
        {
            var r = new byte[WalFormat.EntryRecordSize(e)];
            WalFormat.WriteEntry(r, e);
            records.AddRange(r);
        }
        File.WriteAllBytes(Path.Combine(tmp.Path, WalFormat.SegmentFileName(1)), [.. records]);

        using (RaftStorage s = Open(tmp.Path, NoSync, out RecoveredState r))
        {
            AssertEntries(Range(1, 3, 1), r.Entries);
            Assert.Empty(r.Warnings);
            s.Append(null, [E(4, 1)]);
        }
        AssertEntries(Range(1, 4, 1), Reopen(tmp.Path, NoSync).Entries);
    }

    [Fact]
    public void CommitBeyondRecoveredLogIsReported()
    {
        using var tmp = new TempDir();
        new SegmentBuilder(1, 0, default).Entry(1, 1).Entry(2, 1).Entry(3, 1).State(new HardState(1, 1, 5)).WriteTo(tmp.Path);
        StorageRecoveryException ex = Assert.Throws<StorageRecoveryException>(() => Reopen(tmp.Path, NoSync));
        Assert.Contains("commit index 5", ex.Message);
    }

    [Fact]
    public void GapBetweenEntryIndexesIsCorruption()
    {
        using var tmp = new TempDir();
        var b = new SegmentBuilder(1, 0, default).Entry(1, 1).Entry(2, 1).Entry(4, 1).Entry(5, 1);
        string path = b.WriteTo(tmp.Path);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, NoSync));
        Assert.Equal(path, ex.File);
        Assert.Equal(b.OffsetOf(3), ex.Offset);
    }

    [Fact]
    public void SegmentThatStartsAfterThePreviousOneEndsIsCorruption()
    {
        using var tmp = new TempDir();
        string first = new SegmentBuilder(1, 0, default).Entry(1, 1).Entry(2, 1).WriteTo(tmp.Path);
        new SegmentBuilder(2, 5, default).Entry(6, 1).WriteTo(tmp.Path);
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, NoSync));
        Assert.Equal(first, ex.File);
        Assert.Equal(new FileInfo(first).Length, ex.Offset);
    }

    [Fact]
    public void SegmentWithWrongSequenceInItsHeaderIsCorruption()
    {
        using var tmp = new TempDir();
        string path = new SegmentBuilder(7, 0, default).Entry(1, 1).WriteTo(tmp.Path);
        File.Move(path, Path.Combine(tmp.Path, WalFormat.SegmentFileName(1)));
        WalCorruptionException ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, NoSync));
        Assert.Contains("sequence 7", ex.Message);
    }
}
