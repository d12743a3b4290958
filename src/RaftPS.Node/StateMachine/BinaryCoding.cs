using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace RaftPS.Node.StateMachine;

internal static class Utf16
{
    /// <summary>True when <paramref name="s"/> has no unpaired surrogate, i.e. it survives a UTF-8 round trip exactly.</summary>
    public static bool IsWellFormed(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                    return false;
                i++;
            }
            else if (char.IsLowSurrogate(c))
                return false;
        }
        return true;
    }
}

/// <summary>
/// Little-endian writer with LEB128 varints. In measuring mode (no buffer) it only counts bytes, so one serialization
/// routine run twice yields an exactly sized array without a size formula that could drift from the writer.
/// </summary>
internal ref struct BinWriter
{
    private readonly Span<byte> _buf;
    private readonly bool _measure;
    public int Position;

    private BinWriter(Span<byte> buf, bool measure)
    {
        _buf = buf;
        _measure = measure;
        Position = 0;
    }

    public static BinWriter Measuring() => new(default, true);
    public static BinWriter Into(Span<byte> buf) => new(buf, false);

    public readonly Span<byte> Written => _buf[..Position];

    public void U8(byte v)
    {
        if (!_measure) _buf[Position] = v;
        Position++;
    }

    public void U32(uint v)
    {
        if (!_measure) BinaryPrimitives.WriteUInt32LittleEndian(_buf[Position..], v);
        Position += 4;
    }

    public void I64(long v)
    {
        if (!_measure) BinaryPrimitives.WriteInt64LittleEndian(_buf[Position..], v);
        Position += 8;
    }

    public void VarU64(ulong v)
    {
        while (v >= 0x80)
        {
            U8((byte)(v | 0x80));
            v >>= 7;
        }
        U8((byte)v);
    }

    public void Bytes(ReadOnlySpan<byte> data)
    {
        VarU64((ulong)data.Length);
        if (!_measure) data.CopyTo(_buf[Position..]);
        Position += data.Length;
    }

    /// <summary>UTF-8, length-prefixed. Callers pass only well-formed strings (see <see cref="Utf16.IsWellFormed"/>).</summary>
    public void Str(string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        VarU64((ulong)n);
        if (!_measure) Encoding.UTF8.GetBytes(s, _buf.Slice(Position, n));
        Position += n;
    }
}

/// <summary>Bounds-checked reader; every failure is a typed <see cref="KvDataException"/> of the caller's kind.</summary>
internal ref struct BinReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly bool _snapshot;
    public int Position;

    public BinReader(ReadOnlySpan<byte> data, bool snapshot)
    {
        _data = data;
        _snapshot = snapshot;
        Position = 0;
    }

    public readonly int Remaining => _data.Length - Position;

    public readonly KvDataException Fail(string message) =>
        _snapshot ? new KvSnapshotFormatException(message) : new KvCommandFormatException(message);

    private readonly void Need(int n, string what)
    {
        if (Remaining < n)
            throw Fail($"truncated: {what} needs {n} bytes at offset {Position}, {Remaining} left");
    }

    public byte U8(string what)
    {
        Need(1, what);
        return _data[Position++];
    }

    public uint U32(string what)
    {
        Need(4, what);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data[Position..]);
        Position += 4;
        return v;
    }

    public long I64(string what)
    {
        Need(8, what);
        long v = BinaryPrimitives.ReadInt64LittleEndian(_data[Position..]);
        Position += 8;
        return v;
    }

    public ulong VarU64(string what)
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = U8(what);
            // The 10th byte may carry only the top bit of a 64-bit value.
            if (shift == 63 && b > 1)
                throw Fail($"varint overflow in {what} at offset {Position - 1}");
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return result;
        }
        throw Fail($"varint too long in {what} at offset {Position}");
    }

    /// <summary>A varint that must fit in an int and not exceed what is left (a length or a count of encoded items).</summary>
    public int Length(string what, int minBytesPerItem = 1)
    {
        ulong n = VarU64(what);
        if (n > (ulong)(Remaining / Math.Max(1, minBytesPerItem)))
            throw Fail($"{what} {n} exceeds the {Remaining} bytes left at offset {Position}");
        return (int)n;
    }

    public ReadOnlySpan<byte> BytesSpan(string what)
    {
        int n = Length(what);
        var s = _data.Slice(Position, n);
        Position += n;
        return s;
    }

    public byte[] Bytes(string what) => BytesSpan(what).ToArray();

    public string Str(string what)
    {
        var raw = BytesSpan(what);
        if (!System.Text.Unicode.Utf8.IsValid(raw))
            throw Fail($"{what} is not valid UTF-8");
        return Encoding.UTF8.GetString(raw);
    }

    public readonly void End()
    {
        if (Remaining != 0)
            throw Fail($"{Remaining} unexpected trailing bytes at offset {Position}");
    }
}
