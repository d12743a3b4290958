using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Wire;

public class WireReaderWriterTests
{
    [Theory]
    [InlineData(0UL, 1)]
    [InlineData(127UL, 1)]
    [InlineData(128UL, 2)]
    [InlineData(16383UL, 2)]
    [InlineData(16384UL, 3)]
    [InlineData((ulong)uint.MaxValue, 5)]
    [InlineData(ulong.MaxValue, 10)]
    public void VarUIntRoundTripsWithExpectedLength(ulong value, int length)
    {
        using var w = new WireWriter();
        w.WriteVarUInt64(value);
        Assert.Equal(length, w.Length);
        var r = new WireReader(w.WrittenSpan);
        Assert.Equal(value, r.ReadVarUInt64());
        r.EnsureEnd();
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(-1, 1)]
    [InlineData(63, 1)]
    [InlineData(-64, 1)]
    [InlineData(64, 2)]
    [InlineData(int.MaxValue, 5)]
    [InlineData(int.MinValue, 5)]
    public void ZigZagRoundTrips(int value, int length)
    {
        using var w = new WireWriter();
        w.WriteVarInt32(value);
        Assert.Equal(length, w.Length);
        var r = new WireReader(w.WrittenSpan);
        Assert.Equal(value, r.ReadVarInt32());
    }

    public static TheoryData<string, byte[]> BadVarints => new()
    {
        { "empty", [] },
        { "unterminated", [0x80, 0x80] },
        { "eleven bytes", [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00] },
        { "tenth byte overflows", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02] },
    };

    [Theory]
    [MemberData(nameof(BadVarints))]
    public void BadVarintsAreRejected(string name, byte[] bytes)
    {
        _ = name;
        Assert.Throws<WireFormatException>(() => new WireReader(bytes).ReadVarUInt64());
    }

    [Fact]
    public void LengthsAndCountsAreCheckedBeforeAllocation()
    {
        // Claims a 2^62-byte array / element count with three bytes left.
        byte[] bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 1, 2, 3];
        Assert.Throws<WireFormatException>(() => new WireReader(bytes).ReadBytes());
        Assert.Throws<WireFormatException>(() => new WireReader(bytes).ReadNullableBytes());
        Assert.Throws<WireFormatException>(() => new WireReader(bytes).ReadCount(1));
        Assert.Throws<WireFormatException>(() => new WireReader([4, 1, 2]).ReadCount(1));
        Assert.Equal(3, new WireReader([3, 1, 2, 3]).ReadCount(1));
        Assert.Throws<WireFormatException>(() => new WireReader([2, 1, 2, 3]).ReadCount(2));
        Assert.Throws<WireFormatException>(() => new WireReader([2]).ReadBool());
    }

    [Fact]
    public void NullableFieldsDistinguishNullFromEmpty()
    {
        using var w = new WireWriter();
        w.WriteNullableBytes(null);
        w.WriteNullableBytes([]);
        w.WriteNullableString(null);
        w.WriteNullableString("");
        var r = new WireReader(w.WrittenSpan);
        Assert.Null(r.ReadNullableBytes());
        Assert.Equal([], Assert.IsType<byte[]>(r.ReadNullableBytes()));
        Assert.Null(r.ReadNullableString());
        Assert.Equal("", r.ReadNullableString());
        r.EnsureEnd();
    }

    [Fact]
    public void WriterGrowsAndRentedWritersComeBackCleared()
    {
        var w = WireWriter.Rent();
        var big = new byte[3 << 20];
        big[^1] = 42;
        w.WriteBytes(big);
        Assert.Equal(big.Length + 4, w.Length);
        WireWriter.Return(w);
        var again = WireWriter.Rent();
        Assert.Equal(0, again.Length);
        WireWriter.Return(again);

        var disposed = new WireWriter();
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => disposed.WriteByte(1));
        WireWriter.Return(disposed); // ignored, not cached
        var fresh = WireWriter.Rent();
        fresh.WriteByte(1);
        Assert.Equal(1, fresh.Length);
        WireWriter.Return(fresh);
    }
}
