using RaftPS.Node.StateMachine;
using RaftPS.Protocol;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

public class KvCommandCodecTests
{
    private static readonly Dictionary<string, KvCommand> RoundTrips = new()
    {
        ["put"] = Put(1, 1, "k", "v", ts: 1_700_000_000_000),
        ["put empty value"] = Put(1, 2, "k", ""),
        ["put null value"] = Put(1, 2, "k", null),
        ["delete"] = Del(42, 7, "a/b/c"),
        ["cas version"] = Cas(3, 9, "k", "new", 17, null),
        ["cas version 0"] = Cas(3, 9, "k", "new", 0, null),
        ["cas value"] = Cas(3, 9, "k", "new", null, "old"),
        ["cas empty expected value"] = Cas(3, 9, "k", "new", null, ""),
        ["cas both"] = Cas(3, 9, "k", "new", ulong.MaxValue, "old"),
        ["extreme numbers"] = new(ulong.MaxValue, ulong.MaxValue, long.MinValue, ClientOp.Put, "k", [0, 255], ulong.MaxValue, []),
        ["negative timestamp"] = Put(1, 1, "k", "v", ts: -1),
        ["unicode key"] = Put(1, 1, "ключ/日本/🔑", "v"),
        ["empty key (apply rejects it)"] = Put(1, 1, "", "v"),
        ["read op (apply rejects it)"] = new(1, 1, 0, ClientOp.Get, "k", null, null, null),
        ["large value"] = new(1, 1, 0, ClientOp.Put, "big", Enumerable.Range(0, 1 << 20).Select(i => (byte)i).ToArray(), null, null),
        ["checkpoint without reference"] = KvCommand.ForCheckpoint(null, timestampMs: 5),
        ["checkpoint with reference"] = KvCommand.ForCheckpoint(new KvDigest(77, new UInt128(0xFEDC_BA98_7654_3210, 0x0123_4567_89AB_CDEF)), 1_700_000_000_000),
        ["checkpoint with extreme reference"] = KvCommand.ForCheckpoint(new KvDigest(ulong.MaxValue, UInt128.MaxValue), -1),
    };

    public static TheoryData<string> RoundTripNames => new(RoundTrips.Keys);

    [Theory]
    [MemberData(nameof(RoundTripNames))]
    public void Round_trip(string name)
    {
        var c = RoundTrips[name];
        var bytes = KvCommandCodec.Encode(c);
        var back = KvCommandCodec.Decode(bytes);
        Assert.Equal(c, back);
        Assert.Equal(c.Value is null, back.Value is null);
        Assert.Equal(c.ExpectedValue is null, back.ExpectedValue is null);
        Assert.Equal(bytes, KvCommandCodec.Encode(back));
    }

    [Fact]
    public void Equality_is_by_content_and_notices_each_field()
    {
        var c = Cas(1, 2, "k", "v", 3, "e", ts: 4);
        Assert.Equal(c, Cas(1, 2, "k", "v", 3, "e", ts: 4));
        Assert.Equal(c.GetHashCode(), Cas(1, 2, "k", "v", 3, "e", ts: 4).GetHashCode());
        KvCommand[] different =
        [
            c with { ClientId = 9 }, c with { Sequence = 9 }, c with { TimestampMs = 9 }, c with { Op = ClientOp.Put },
            c with { Key = "K" }, c with { Value = B("w") }, c with { Value = null }, c with { ExpectedVersion = null },
            c with { ExpectedValue = B("f") }, c with { ExpectedValue = null },
        ];
        foreach (var d in different)
            Assert.NotEqual(c, d);
    }

    [Fact]
    public void Encode_rejects_a_key_that_UTF8_cannot_carry()
    {
        Assert.Throws<ArgumentException>(() => KvCommandCodec.Encode(Put(1, 1, "a\udc00b", "v")));
        Assert.Throws<ArgumentException>(() => KvCommandCodec.Encode(Put(1, 1, "a\ud800", "v")));
        Assert.Throws<ArgumentNullException>(() => KvCommandCodec.Encode(null!));
    }

    private static byte[] Good => KvCommandCodec.Encode(Cas(300, 70_000, "key", "value", 5, "old", ts: 123));

    private static readonly Dictionary<string, Func<byte[]>> BadData = new()
    {
        ["empty"] = () => [],
        ["unknown format 0"] = () => With(Good, 0, 0),
        ["unknown format 2"] = () => With(Good, 0, 2),
        // format(1) clientId(2) sequence(3) timestamp(8) → op at offset 14
        ["op 0"] = () => With(Good, 14, 0),
        ["op 99"] = () => With(Good, 14, 99),
        ["unknown flag bit"] = () => With(Good, 14 + 1 + 1 + 3, 0x08 | 0x07),
        ["trailing byte"] = () => [.. Good, 0],
        ["invalid UTF-8 key"] = () => With(Good, 16, 0xFF),
        ["varint overflow"] = () => [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
        ["varint too long"] = () => [1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        ["key length beyond data"] = () => With(Good, 15, 0x7F),
        ["huge key length"] = () => [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
        ["checkpoint reference flag 2"] = () => [3, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        ["checkpoint trailing byte"] = () => [.. KvCommandCodec.Encode(KvCommand.ForCheckpoint(null)), 0],
        ["unknown kind 4"] = () => With(KvCommandCodec.Encode(KvCommand.ForCheckpoint(null)), 0, 4),
    };

    public static TheoryData<string> BadDataNames => new(BadData.Keys);

    [Theory]
    [MemberData(nameof(BadDataNames))]
    public void Bad_data_is_rejected(string name)
    {
        var ex = Assert.Throws<KvCommandFormatException>(() => KvCommandCodec.Decode(BadData[name]()));
        Assert.IsAssignableFrom<KvDataException>(ex);
    }

    [Fact]
    public void Every_truncation_is_rejected()
    {
        var good = Good;
        Assert.Equal(Cas(300, 70_000, "key", "value", 5, "old", ts: 123), KvCommandCodec.Decode(good));
        for (int len = 0; len < good.Length; len++)
            Assert.Throws<KvCommandFormatException>(() => KvCommandCodec.Decode(good.AsSpan(0, len)));
    }

    [Fact]
    public void Every_truncation_of_a_checkpoint_is_rejected()
    {
        var good = KvCommandCodec.Encode(KvCommand.ForCheckpoint(new KvDigest(300, UInt128.MaxValue - 5), 42));
        Assert.Equal(KvCommandCodec.CheckpointKind, good[0]);
        for (int len = 0; len < good.Length; len++)
            Assert.Throws<KvCommandFormatException>(() => KvCommandCodec.Decode(good.AsSpan(0, len)));
    }

    [Fact]
    public void A_checkpoint_changes_nothing_but_the_applied_index()
    {
        var sm = new KvStateMachine();
        sm.Apply(1, Put(1, 1, "k", "v", ts: 1000));
        var before = sm.Digest();
        long logTime = sm.LogTimeMs;
        var r = sm.Apply(2, KvCommand.ForCheckpoint(before, timestampMs: 9_000_000));
        Assert.Equal(ReplyStatus.Ok, r.Status);
        Assert.Equal(2UL, sm.AppliedIndex);
        Assert.Equal(logTime, sm.LogTimeMs); // however far the proposing leader's clock was
        // A replica that applied the checkpoint as a no-op (an older binary) holds the same state.
        var noop = new KvStateMachine();
        noop.Apply(1, Put(1, 1, "k", "v", ts: 1000));
        noop.ApplyNoop(2);
        Assert.Equal(sm.Digest(), noop.Digest());
        Assert.Equal("v", System.Text.Encoding.UTF8.GetString(sm.Get("k")!.Value));
        // Same state apart from the index: another replica at index 2 must hash the same.
        var other = new KvStateMachine();
        other.Apply(1, Put(1, 1, "k", "v", ts: 1000));
        other.Apply(2, KvCommand.ForCheckpoint(null, timestampMs: 1000));
        Assert.Equal(sm.Digest(), other.Digest());
    }

    [Fact]
    public void Layout_offsets_used_above_are_right()
    {
        var good = Good;
        Assert.Equal(KvCommandCodec.FormatVersion, good[0]);
        Assert.Equal((byte)ClientOp.CompareAndSet, good[14]);
        Assert.Equal(3, good[15]);        // key length
        Assert.Equal((byte)'k', good[16]);
        Assert.Equal(0x07, good[19]);     // flags
    }

    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xC1D04330u)]
    [InlineData("123456789", 0xE3069283u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x22620404u)]
    public void Crc32C_matches_known_vectors(string input, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(B(input)));

    private static byte[] With(byte[] data, int offset, byte value)
    {
        var copy = (byte[])data.Clone();
        copy[offset] = value;
        return copy;
    }
}
