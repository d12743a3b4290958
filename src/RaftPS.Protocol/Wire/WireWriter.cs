using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Growable, pooled payload buffer for the codecs. It keeps <see cref="Datagram.HeaderSize"/> bytes of headroom
/// in front of the payload so a message that fits one datagram is framed in place, with no copy
/// (<see cref="DatagramFramer"/>). Integers in payloads are LEB128 varints; lengths of nullable fields are
/// written as length + 1 with 0 meaning null. Not thread-safe; use <see cref="Rent"/>/<see cref="Return"/>
/// for a per-thread cached instance.
/// </summary>
public sealed class WireWriter : IBufferWriter<byte>, IDisposable
{
    internal const int Headroom = Datagram.HeaderSize;
    // Room kept past the payload so the auth tag can be appended in place.
    internal const int Tailroom = Datagram.TagSize;
    // A cached writer that grew past this (a snapshot, a big batch) gives its buffer back instead of pinning it.
    private const int RetainLimit = 1 << 20;

    internal static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    [ThreadStatic] private static WireWriter? t_cached;

    private byte[] _buffer;
    private int _position;

    public WireWriter(int initialCapacity = 1024)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 256) + Headroom + Tailroom);
        _position = Headroom;
    }

    /// <summary>A cleared writer, reused from this thread's cache when available.</summary>
    public static WireWriter Rent()
    {
        var w = t_cached;
        if (w is not null)
        {
            t_cached = null;
            return w;
        }
        return new WireWriter();
    }

    /// <summary>Clears <paramref name="writer"/> and caches it for the calling thread.</summary>
    public static void Return(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (writer._buffer.Length == 0) return; // disposed: nothing to reuse
        if (writer._buffer.Length > RetainLimit)
        {
            ArrayPool<byte>.Shared.Return(writer._buffer);
            writer._buffer = ArrayPool<byte>.Shared.Rent(1024 + Headroom + Tailroom);
        }
        writer.Reset();
        t_cached = writer;
    }

    /// <summary>Bytes of payload written so far.</summary>
    public int Length => _position - Headroom;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(Headroom, Length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    public void Reset() => _position = Headroom;

    /// <summary>The underlying array: header slot at [0, Headroom), payload after it, Tailroom spare bytes at the end.</summary>
    internal byte[] RawBuffer => _buffer;

    private void Ensure(int additional)
    {
        long needed = (long)_position + additional + Tailroom;
        if (needed <= _buffer.Length) return;
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (needed > Array.MaxLength) throw new WireFormatException("message too large to encode");
        long size = Math.Max(needed, (long)_buffer.Length * 2);
        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(size, Array.MaxLength));
        _buffer.AsSpan(0, _position).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 16));
        return _buffer.AsSpan(_position, _buffer.Length - _position - Tailroom);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 16));
        return _buffer.AsMemory(_position, _buffer.Length - _position - Tailroom);
    }

    public void Advance(int count)
    {
        if (count < 0 || _position + count > _buffer.Length - Tailroom) throw new ArgumentOutOfRangeException(nameof(count));
        _position += count;
    }

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[_position++] = value;
    }

    public void WriteBool(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteUInt16(ushort value)
    {
        Ensure(2);
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(_position), value);
        _position += 2;
    }

    public void WriteUInt32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_position), value);
        _position += 4;
    }

    public void WriteUInt64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_position), value);
        _position += 8;
    }

    /// <summary>LEB128: 7 bits per byte, high bit = more; at most 10 bytes.</summary>
    public void WriteVarUInt64(ulong value)
    {
        Ensure(10);
        var b = _buffer;
        int p = _position;
        while (value >= 0x80)
        {
            b[p++] = (byte)(value | 0x80);
            value >>= 7;
        }
        b[p++] = (byte)value;
        _position = p;
    }

    /// <summary>Zigzag varint, so small negative numbers stay short.</summary>
    public void WriteVarInt32(int value) => WriteVarUInt64((uint)((value << 1) ^ (value >> 31)));

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_position));
        _position += bytes.Length;
    }

    /// <summary>Varint length then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt64((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    /// <summary>Varint (length + 1), 0 for null, then the bytes.</summary>
    public void WriteNullableBytes(byte[]? bytes)
    {
        if (bytes is null)
        {
            WriteByte(0);
            return;
        }
        WriteVarUInt64((ulong)bytes.Length + 1);
        WriteRaw(bytes);
    }

    /// <summary>UTF-8, varint byte-length prefix. A string with unpaired surrogates cannot be encoded.</summary>
    public void WriteString(string value) => WriteStringCore(value, nullable: false);

    public void WriteNullableString(string? value)
    {
        if (value is null)
        {
            WriteByte(0);
            return;
        }
        WriteStringCore(value, nullable: true);
    }

    private void WriteStringCore(string value, bool nullable)
    {
        int byteCount;
        try
        {
            byteCount = StrictUtf8.GetByteCount(value);
        }
        catch (EncoderFallbackException e)
        {
            throw new WireFormatException("string is not valid UTF-16 (unpaired surrogate)", e);
        }
        WriteVarUInt64((ulong)byteCount + (nullable ? 1UL : 0UL));
        Ensure(byteCount);
        _position += StrictUtf8.GetBytes(value, _buffer.AsSpan(_position, byteCount));
    }

    public void Dispose()
    {
        var b = _buffer;
        _buffer = [];
        _position = 0;
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
