using System.Buffers.Binary;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

public class KvSnapshotTests
{
    private const long Timeout = 2_000;
    private const int MaxSessions = 5;

    private static KvStateMachine New() => new(Timeout, MaxSessions);

    /// <summary>
    /// Restore-then-apply equals apply-all: replica A applies the whole log; replica B applies a prefix, snapshots,
    /// a fresh replica restores that and applies the rest. Every later result and the final state must match.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(137)]
    [InlineData(750)]
    [InlineData(1_499)]
    [InlineData(1_500)]
    public void Restore_then_apply_equals_applying_everything(int cut)
    {
        var log = Workload(seed: 3, count: 1_500);
        var a = New();
        var b = New();
        for (int i = 0; i < cut; i++)
            b.ApplyEntry(log[i]);
        var snapshot = b.TakeSnapshot();
        var c = New();
        c.Restore(snapshot);
        Assert.Equal(snapshot, c.TakeSnapshot()); // canonical: equal state, equal bytes
        Assert.Equal((ulong)cut, c.AppliedIndex);

        for (int i = 0; i < log.Count; i++)
        {
            var ra = a.ApplyEntry(log[i]);
            if (i >= cut)
                Assert.Equal(ra, c.ApplyEntry(log[i]));
        }
        AssertSameState(a, c);
    }

    [Fact]
    public void Restored_state_answers_reads_like_the_original()
    {
        var a = New();
        foreach (var cmd in Workload(seed: 5, count: 800))
            a.ApplyEntry(cmd);
        var c = New();
        c.Restore(a.TakeSnapshot());
        AssertSameState(a, c);
    }

    [Fact]
    public void Empty_state_round_trips()
    {
        var a = new KvStateMachine();
        var bytes = a.TakeSnapshot();
        var c = new KvStateMachine();
        c.Next(Put(1, 1, "x", "y", ts: 99));
        c.Restore(bytes);
        Assert.Equal(0, c.Count);
        Assert.Equal(0, c.SessionCount);
        Assert.Equal(0UL, c.AppliedIndex);
        Assert.Equal(0L, c.LogTimeMs);
        Assert.Null(c.Get("x"));
    }

    /// <summary>A cached result whose item was overwritten or deleted since must still be replayed exactly after a restore.</summary>
    [Theory]
    [InlineData("overwritten")]
    [InlineData("deleted")]
    [InlineData("current")]
    public void Cached_results_survive_a_restore(string laterHistory)
    {
        var a = new KvStateMachine();
        var first = a.Next(Put(1, 1, "k", "mine"));
        if (laterHistory == "overwritten") a.Next(Put(2, 1, "k", "theirs"));
        if (laterHistory == "deleted") a.Next(Del(2, 1, "k"));
        var c = new KvStateMachine();
        c.Restore(a.TakeSnapshot());

        var retry = c.Next(Put(1, 1, "k", "mine"));
        Assert.Equal(first, retry);
        Assert.Equal("mine", S(retry.Item!.Value));
        Assert.Equal(a.Value("k"), c.Value("k"));
    }

    [Fact]
    public void Snapshot_refers_to_current_items_instead_of_copying_values()
    {
        var value = new string('x', 10_000);
        var a = new KvStateMachine();
        a.Next(Put(1, 1, "k", value));
        var shared = a.TakeSnapshot().Length;
        a.Next(Put(2, 1, "k", value)); // client 1's cached item is no longer current: it is written inline
        var inline = a.TakeSnapshot().Length;
        Assert.True(shared < 10_100, $"snapshot with shared item is {shared} bytes");
        Assert.True(inline > 20_000, $"snapshot with an inline item is {inline} bytes");
    }

    [Fact]
    public void Every_single_byte_corruption_is_rejected_and_state_is_kept()
    {
        var a = new KvStateMachine();
        a.Next(Put(1, 1, "alpha", "1", ts: 10));
        a.Next(Put(2, 1, "beta", "2", ts: 20));
        a.Next(Put(1, 2, "alpha", "3", ts: 30)); // client 1's cached result is current, client 2's too
        a.Next(Put(3, 1, "alpha", "4", ts: 40)); // ... and now client 1's is inline
        var good = a.TakeSnapshot();

        var target = new KvStateMachine();
        target.Next(Put(9, 1, "keep", "me"));
        var before = target.TakeSnapshot();
        for (int i = 0; i < good.Length; i++)
        {
            foreach (byte flip in new byte[] { 0x01, 0x80, 0xFF })
            {
                var bad = (byte[])good.Clone();
                bad[i] ^= flip;
                Assert.Throws<KvSnapshotFormatException>(() => target.Restore(bad));
            }
        }
        for (int len = 0; len < good.Length; len++)
            Assert.Throws<KvSnapshotFormatException>(() => target.Restore(good.AsSpan(0, len)));
        Assert.Throws<KvSnapshotFormatException>(() => target.Restore([.. good, 0]));
        Assert.Equal(before, target.TakeSnapshot());

        target.Restore(good);
        Assert.Equal(good, target.TakeSnapshot());
    }

    /// <summary>Snapshots with a valid checksum but impossible content: the restore must check meaning, not only bytes.</summary>
    public static TheoryData<string> BadContentNames => new(BadContent.Keys);

    private static readonly Dictionary<string, Action<Builder>> BadContent = new()
    {
        ["unknown format"] = b => b.Format = 4,
        ["settings flag neither 0 nor 1"] = b => b.SettingsFromLog = 2,
        ["settings out of range"] = b => b.Settings = KvSettings.Default with { MaxSessions = 0 },
        ["format 0"] = b => b.Format = 0,
        ["tombstone with a live session"] = b => b.Tombstones = [5],
        ["repeated tombstone"] = b => b.Tombstones = [7, 7],
        ["zero tombstone"] = b => b.Tombstones = [0],
        ["keys out of order"] = b => b.Keys = [("b", 1, "x"), ("a", 2, "y")],
        ["duplicate key"] = b => b.Keys = [("a", 1, "x"), ("a", 2, "y")],
        ["empty key"] = b => b.Keys = [("", 1, "x")],
        ["version 0"] = b => b.Keys = [("a", 0, "x")],
        ["version after applied index"] = b => b.Keys = [("a", 11, "x")],
        ["key count larger than data"] = b => b.KeyCountOverride = 1_000_000,
        ["client id 0"] = b => b.Sessions = [new(0, 1, 0, 0, 0, null)],
        ["client ids not ascending"] = b => b.Sessions = [new(5, 1, 0, 0, 0, null), new(5, 1, 0, 0, 0, null)],
        ["last sequence 0"] = b => b.Sessions = [new(5, 0, 0, 0, 0, null)],
        ["last seen after log time"] = b => b.Sessions = [new(5, 1, 101, 0, 0, null)],
        ["unknown status"] = b => b.Sessions = [new(5, 1, 0, 200, 0, null)],
        ["unknown item kind"] = b => b.Sessions = [new(5, 1, 0, 0, 1, (9, "a", 1, null))],
        ["reference to missing key"] = b => b.Sessions = [new(5, 1, 0, 0, 1, (1, "zzz", 1, null))],
        ["reference to wrong version"] = b => b.Sessions = [new(5, 1, 0, 0, 1, (1, "a", 9, null))],
        ["inline item version 0"] = b => b.Sessions = [new(5, 1, 0, 0, 1, (2, "a", 0, "v"))],
        ["trailing bytes inside checksum"] = b => b.Trailing = [0],
        ["invalid UTF-8 key"] = b => b.RawKey = [0xC3, 0x28],
    };

    [Theory]
    [MemberData(nameof(BadContentNames))]
    public void Inconsistent_snapshot_with_valid_checksum_is_rejected(string name)
    {
        var ok = new Builder();
        new KvStateMachine().Restore(ok.Build()); // the baseline is accepted
        var bad = new Builder();
        BadContent[name](bad);
        var sm = new KvStateMachine();
        var ex = Assert.Throws<KvSnapshotFormatException>(() => sm.Restore(bad.Build()));
        Assert.False(string.IsNullOrEmpty(ex.Message));
        Assert.Equal(0UL, sm.AppliedIndex);
    }

    [Fact]
    public void Wrong_magic_is_reported_as_not_a_snapshot()
    {
        var bytes = new KvStateMachine().TakeSnapshot();
        bytes[0] = (byte)'X';
        var ex = Assert.Throws<KvSnapshotFormatException>(() => new KvStateMachine().Restore(bytes));
        Assert.Contains("magic", ex.Message);
    }

    /// <summary>
    /// A million keys: loaded through a snapshot (as a node recovering would), then read, listed, written and
    /// snapshotted again. Building the state by a million Applies would only slow the suite; see the next test for that path.
    /// </summary>
    [Fact]
    public void Handles_a_million_keys()
    {
        const int N = 1_000_000;
        var builder = new Builder
        {
            Applied = N,
            Keys = new (string, ulong, string)[N],
            Sessions = [new(1, N, 100, 0, N, (1, $"key/{N - 1:D7}", N, null))],
        };
        for (int i = 0; i < N; i++)
            builder.Keys[i] = ($"key/{i:D7}", (ulong)i + 1, "v");
        var sm = new KvStateMachine();
        sm.Restore(builder.Build());

        Assert.Equal(N, sm.Count);
        Assert.Equal(500_001UL, sm.Get("key/0500000")!.Version);
        Assert.Equal(["key/0500000", "key/0500001", "key/0500002"], sm.List("key/05", 3).Select(x => x.Key));
        Assert.Equal(100, sm.List("key/00000*", 0).Count());
        Assert.Equal(N, sm.List("", 0).Count());
        Assert.Equal(["key/0999999"], sm.List("*99999", 0).Skip(9).Select(x => x.Key));

        Assert.Equal(ReplyStatus.Ok, sm.Next(new KvCommand(1, N + 1, 200, ClientOp.Delete, "key/0000000", null, null, null)).Status);
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(1, N + 2, "key/0000000x", "new", ts: 200)).Status);
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(1, N + 3, "key/0000001", "new", ts: 200)).Status);
        Assert.Equal(["key/0000000x", "key/0000001"], sm.List("key/000000", 0).Take(2).Select(x => x.Key));
        Assert.Equal((ulong)N + 3, sm.Get("key/0000001")!.Version);

        var snapshot = sm.TakeSnapshot();
        var c = new KvStateMachine();
        c.Restore(snapshot);
        Assert.Equal(N, c.Count);
        Assert.Equal(snapshot, c.TakeSnapshot());
    }

    [Fact]
    public void Applies_a_hundred_thousand_scrambled_keys()
    {
        const ulong N = 100_000;
        var sm = new KvStateMachine();
        var value = B("v");
        for (ulong i = 0; i < N; i++)
            sm.Apply(i + 1, new KvCommand(1, i + 1, 0, ClientOp.Put, $"key/{i * 7_919 % N:D6}", value, null, null));
        Assert.Equal((int)N, sm.Count);
        var all = sm.List("", 0).Select(x => x.Key).ToList();
        Assert.Equal(all.Order(StringComparer.Ordinal), all);
        Assert.Equal("key/000000", all[0]);
        Assert.Equal(1UL, sm.Get("key/000000")!.Version);
    }

    private static void AssertSameState(KvStateMachine a, KvStateMachine c)
    {
        Assert.Equal(a.AppliedIndex, c.AppliedIndex);
        Assert.Equal(a.LogTimeMs, c.LogTimeMs);
        Assert.Equal(a.Count, c.Count);
        Assert.Equal(a.SessionCount, c.SessionCount);
        var listA = a.List("", 0).ToList();
        var listC = c.List("", 0).ToList();
        Assert.Equal(listA.Count, listC.Count);
        for (int i = 0; i < listA.Count; i++)
            Assert.True(KvResultItemsEqual(listA[i], listC[i]), $"item {listA[i].Key} differs");
        for (ulong id = 0; id < 20; id++)
            Assert.Equal(a.GetSession(id), c.GetSession(id));
        Assert.Equal(a.TakeSnapshot(), c.TakeSnapshot());
    }

    private static bool KvResultItemsEqual(KvItem x, KvItem y) =>
        x.Key == y.Key && x.Version == y.Version && x.Value.AsSpan().SequenceEqual(y.Value);

    public sealed record SessionSpec(ulong ClientId, ulong LastSequence, long LastSeen, byte Status, ulong Version,
                                     (byte Kind, string Key, ulong Version, string? Value)? Item);

    /// <summary>Writes snapshot bytes field by field (format 3), with a correct checksum, so content checks can be tested.</summary>
    private sealed class Builder
    {
        public byte Format = KvStateMachine.SnapshotFormatVersion;
        public ulong Applied = 10;
        public long LogTime = 100;
        public long LastTimestamp = 100;
        public KvSettings Settings = KvSettings.Default;
        public byte SettingsFromLog;
        public (string Key, ulong Version, string Value)[] Keys = [("a", 1, "x"), ("b", 2, "y")];
        public ulong? KeyCountOverride;
        public byte[]? RawKey;
        public SessionSpec[] Sessions = [new(5, 1, 50, 0, 1, (1, "a", 1, null))];
        public ulong[] Tombstones = [];
        public byte[] Trailing = [];

        public byte[] Build()
        {
            var body = new List<byte>();
            void U8(byte v) => body.Add(v);
            void Var(ulong v)
            {
                while (v >= 0x80) { body.Add((byte)(v | 0x80)); v >>= 7; }
                body.Add((byte)v);
            }
            void Fixed64(long v) { var t = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(t, v); body.AddRange(t); }
            void Bytes(byte[] b) { Var((ulong)b.Length); body.AddRange(b); }

            var magic = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(magic, KvStateMachine.SnapshotMagic);
            body.AddRange(magic);
            U8(Format);
            Var(Applied);
            Fixed64(LogTime);
            if (Format >= 3)
            {
                Fixed64(LastTimestamp);
                Var((ulong)Settings.SessionTimeoutMs);
                Var((ulong)Settings.MaxSessions);
                Var((ulong)Settings.MaxValueBytes);
                Var((ulong)Settings.MaxTombstones);
                Var((ulong)Settings.MaxClockStepMs);
                U8(SettingsFromLog);
            }
            Var(KeyCountOverride ?? (ulong)(Keys.Length + (RawKey is null ? 0 : 1)));
            if (RawKey is not null)
            {
                Bytes(RawKey);
                Var(1);
                Bytes(B("v"));
            }
            foreach (var (key, version, value) in Keys)
            {
                Bytes(B(key));
                Var(version);
                Bytes(B(value));
            }
            Var((ulong)Sessions.Length);
            foreach (var s in Sessions)
            {
                Var(s.ClientId);
                Var(s.LastSequence);
                Fixed64(s.LastSeen);
                U8(s.Status);
                Var(s.Version);
                if (s.Item is not { } item)
                {
                    U8(0);
                    continue;
                }
                U8(item.Kind);
                Bytes(B(item.Key));
                Var(item.Version);
                if (item.Value is not null)
                    Bytes(B(item.Value));
            }
            if (Format >= 2)
            {
                Var((ulong)Tombstones.Length);
                foreach (var id in Tombstones) Var(id);
            }
            body.AddRange(Trailing);
            var crc = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32C.Compute(body.ToArray()));
            return [.. body, .. crc];
        }
    }
}
