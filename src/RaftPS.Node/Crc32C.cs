using System.Buffers.Binary;
using System.Numerics;

namespace RaftPS.Node;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of WAL records, snapshot files and state machine snapshots. System.IO.Hashing.Crc32 is the IEEE
/// polynomial; BitOperations.Crc32C uses the SSE4.2 / ARMv8 CRC instructions when present, 8 bytes per step.
/// </summary>
internal static class Crc32C
{
    public const uint Seed = 0xFFFFFFFFu;

    /// <summary>Checksum of one contiguous buffer.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Update(Seed, data));

    /// <summary>Feeds <paramref name="data"/> into a running (non-finalised) CRC; start from <see cref="Seed"/>.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        if (data.Length >= 4)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt32LittleEndian(data));
            data = data[4..];
        }
        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return crc;
    }

    public static uint Finish(uint crc) => ~crc;
}
