using System.Buffers.Binary;
using System.Text;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Bounds-checked reader matching <see cref="WireWriter"/>. Every failure is a <see cref="WireFormatException"/>;
/// lengths and counts are checked against the bytes remaining before anything is allocated.
/// </summary>
public ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public WireReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly int Remaining => _data.Length - _position;
    public readonly int Position => _position;

    private static WireFormatException Truncated() => new("payload truncated");

    public byte ReadByte()
    {
        if (_position >= _data.Length) throw Truncated();
        return _data[_position++];
    }

    public bool ReadBool()
    {
        byte b = ReadByte();
        return b switch
        {
            0 => false,
            1 => true,
            _ => throw new WireFormatException($"invalid boolean byte {b}"),
        };
    }

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(ReadSpan(2));
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(ReadSpan(4));
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(ReadSpan(8));

    public ulong ReadVarUInt64()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = ReadByte();
            // The tenth byte may only hold the top bit of a u64.
            if (shift == 63 && b > 1) throw new WireFormatException("varint overflows 64 bits");
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw new WireFormatException("varint too long");
    }

    public int ReadVarInt32()
    {
        ulong raw = ReadVarUInt64();
        if (raw > uint.MaxValue) throw new WireFormatException("zigzag int32 out of range");
        uint u = (uint)raw;
        return (int)(u >> 1) ^ -(int)(u & 1);
    }

    public ReadOnlySpan<byte> ReadSpan(int length)
    {
        if (length < 0 || length > Remaining) throw Truncated();
        var s = _data.Slice(_position, length);
        _position += length;
        return s;
    }

    /// <summary>A varint length that must fit in the remaining bytes.</summary>
    public int ReadLength()
    {
        ulong n = ReadVarUInt64();
        if (n > (ulong)Remaining) throw new WireFormatException($"length {n} exceeds the {Remaining} bytes remaining");
        return (int)n;
    }

    /// <summary>An element count; each element needs at least <paramref name="minElementSize"/> bytes, so the count is bounded by what is left.</summary>
    public int ReadCount(int minElementSize)
    {
        ulong n = ReadVarUInt64();
        if (n > (ulong)(Remaining / Math.Max(1, minElementSize))) throw new WireFormatException($"count {n} impossible with {Remaining} bytes remaining");
        return (int)n;
    }

    public ReadOnlySpan<byte> ReadBytesSpan() => ReadSpan(ReadLength());

    public byte[] ReadBytes()
    {
        var s = ReadBytesSpan();
        return s.IsEmpty ? [] : s.ToArray();
    }

    public byte[]? ReadNullableBytes()
    {
        ulong n = ReadVarUInt64();
        if (n == 0) return null;
        if (n - 1 > (ulong)Remaining) throw Truncated();
        var s = ReadSpan((int)(n - 1));
        return s.IsEmpty ? [] : s.ToArray();
    }

    public string ReadString() => Decode(ReadSpan(ReadLength()));

    public string? ReadNullableString()
    {
        ulong n = ReadVarUInt64();
        if (n == 0) return null;
        if (n - 1 > (ulong)Remaining) throw Truncated();
        return Decode(ReadSpan((int)(n - 1)));
    }

    private static string Decode(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "";
        try
        {
            return WireWriter.StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException e)
        {
            throw new WireFormatException("string is not valid UTF-8", e);
        }
    }

    /// <summary>Trailing bytes mean the sender and receiver disagree on the format: reject rather than ignore.</summary>
    public readonly void EnsureEnd()
    {
        if (Remaining != 0) throw new WireFormatException($"{Remaining} unexpected trailing bytes");
    }
}
