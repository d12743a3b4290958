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
