using System.Text;
using RaftPS.Node.Storage;

namespace RaftPS.Node.Tests.Storage;

public class Crc32CTests
{
    // Check values from RFC 3720 appendix B.4 and the common "123456789" check value of CRC-32C.
    public static TheoryData<string, uint> Vectors => new()
    {
        { "", 0x00000000u },
        { "hex:" + new string('0', 64), 0x8A9136AAu },
        { "hex:" + string.Concat(Enumerable.Repeat("ff", 32)), 0x62A8AB43u },
        { "hex:" + string.Concat(Enumerable.Range(0, 32).Select(i => i.ToString("x2"))), 0x46DD794Eu },
        { "123456789", 0xE3069283u },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void MatchesKnownCheckValues(string input, uint expected)
    {
        byte[] data = input.StartsWith("hex:", StringComparison.Ordinal) ? Convert.FromHexString(input[4..]) : Encoding.ASCII.GetBytes(input);
        Assert.Equal(expected, Crc32C.Compute(data));
    }

    [Fact]
    public void IncrementalEqualsOneShot()
    {
        byte[] data = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        for (int split = 0; split <= data.Length; split += 37)
        {
            uint crc = Crc32C.Update(Crc32C.Seed, data.AsSpan(0, split));
            crc = Crc32C.Finish(Crc32C.Update(crc, data.AsSpan(split)));
            Assert.Equal(Crc32C.Compute(data), crc);
        }
    }
}
