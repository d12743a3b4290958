using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// Binary form of a <see cref="KvCommand"/> as it sits in a Raft log entry. Layout (format 1):
/// u8 format, varint clientId, varint sequence, i64 timestampMs, u8 op, string key, u8 flags
/// (1 = value, 2 = expectedVersion, 4 = expectedValue), then the flagged fields in that order.
/// Strings are UTF-8 and byte arrays length-prefixed with a varint. No checksum: the WAL checksums each record.
/// </summary>
public static class KvCommandCodec
{
    public const byte FormatVersion = 1;

    private const byte HasValue = 1, HasExpectedVersion = 2, HasExpectedValue = 4;
    private const byte KnownFlags = HasValue | HasExpectedVersion | HasExpectedValue;

    /// <exception cref="ArgumentException">The key is null or has an unpaired surrogate (it would not survive UTF-8).</exception>
    public static byte[] Encode(KvCommand c)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(c.Key, nameof(c.Key));
        if (!Utf16.IsWellFormed(c.Key))
            throw new ArgumentException("command key contains an unpaired UTF-16 surrogate", nameof(c));
        var m = BinWriter.Measuring();
        Write(ref m, c);
        var buf = new byte[m.Position];
        var w = BinWriter.Into(buf);
        Write(ref w, c);
        return buf;
    }

    private static void Write(ref BinWriter w, KvCommand c)
    {
        w.U8(FormatVersion);
        w.VarU64(c.ClientId);
        w.VarU64(c.Sequence);
        w.I64(c.TimestampMs);
        w.U8((byte)c.Op);
        w.Str(c.Key);
        byte flags = 0;
        if (c.Value is not null) flags |= HasValue;
        if (c.ExpectedVersion is not null) flags |= HasExpectedVersion;
        if (c.ExpectedValue is not null) flags |= HasExpectedValue;
        w.U8(flags);
        if (c.Value is not null) w.Bytes(c.Value);
        if (c.ExpectedVersion is ulong ev) w.VarU64(ev);
        if (c.ExpectedValue is not null) w.Bytes(c.ExpectedValue);
    }

    /// <exception cref="KvCommandFormatException">Unknown format, truncated, unknown op or flags, bad UTF-8, trailing bytes.</exception>
    public static KvCommand Decode(ReadOnlySpan<byte> data)
    {
        var r = new BinReader(data, snapshot: false);
        byte format = r.U8("format");
        if (format != FormatVersion)
            throw new KvCommandFormatException($"unknown command format {format} (expected {FormatVersion})");
        ulong clientId = r.VarU64("clientId");
        ulong sequence = r.VarU64("sequence");
        long timestamp = r.I64("timestamp");
        byte op = r.U8("op");
        if (!Enum.IsDefined((ClientOp)op))
            throw new KvCommandFormatException($"unknown op {op}");
        string key = r.Str("key");
        byte flags = r.U8("flags");
        if ((flags & ~KnownFlags) != 0)
            throw new KvCommandFormatException($"unknown flags 0x{flags:X2}");
        byte[]? value = (flags & HasValue) != 0 ? r.Bytes("value") : null;
        ulong? expectedVersion = (flags & HasExpectedVersion) != 0 ? r.VarU64("expectedVersion") : null;
        byte[]? expectedValue = (flags & HasExpectedValue) != 0 ? r.Bytes("expectedValue") : null;
        r.End();
        return new KvCommand(clientId, sequence, timestamp, (ClientOp)op, key, value, expectedVersion, expectedValue);
    }
}
