using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// Binary form of a <see cref="KvCommand"/> as it sits in a Raft log entry. Layout (format 1):
/// u8 format, varint clientId, varint sequence, i64 timestampMs, u8 op, string key, u8 flags
/// (1 = value, 2 = expectedVersion, 4 = expectedValue), then the flagged fields in that order.
/// Strings are UTF-8 and byte arrays length-prefixed with a varint. No checksum: the WAL checksums each record.
/// <para>
/// A settings command (<see cref="KvCommand.ForSettings"/>) starts with byte 2 instead of the format byte:
/// u8 2, i64 timestampMs, varint sessionTimeoutMs, varint maxSessions, varint maxValueBytes, varint maxTombstones,
/// varint maxClockStepMs. Values are checked when applied, not when decoded, so every replica rejects the same ones.
/// </para>
/// <para>
/// A digest checkpoint (<see cref="KvCommand.ForCheckpoint"/>) starts with byte 3: u8 3, i64 timestampMs, u8 hasReference,
/// then, when set, varint index and the 128-bit hash (u64 high, u64 low).
/// </para>
/// </summary>
public static class KvCommandCodec
{
    public const byte FormatVersion = 1;

    /// <summary>First byte of a settings command.</summary>
    public const byte SettingsKind = 2;

    /// <summary>First byte of a digest checkpoint.</summary>
    public const byte CheckpointKind = 3;

    private const byte HasValue = 1, HasExpectedVersion = 2, HasExpectedValue = 4;
    private const byte KnownFlags = HasValue | HasExpectedVersion | HasExpectedValue;

    /// <exception cref="ArgumentException">The key is null or has an unpaired surrogate (it would not survive UTF-8).</exception>
    public static byte[] Encode(KvCommand c)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(c.Key, nameof(c.Key));
        if (c.Settings is { } settings && settings.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(c));
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
        if (c.Settings is { } s)
        {
            w.U8(SettingsKind);
            w.I64(c.TimestampMs);
            w.VarU64((ulong)s.SessionTimeoutMs);
            w.VarU64((ulong)s.MaxSessions);
            w.VarU64((ulong)s.MaxValueBytes);
            w.VarU64((ulong)s.MaxTombstones);
            w.VarU64((ulong)s.MaxClockStepMs);
            return;
        }
        if (c.Checkpoint is { } checkpoint)
        {
            w.U8(CheckpointKind);
            w.I64(c.TimestampMs);
            w.U8(checkpoint.Reference is null ? (byte)0 : (byte)1);
            if (checkpoint.Reference is { } reference)
            {
                w.VarU64(reference.AppliedIndex);
                w.I64((long)(ulong)(reference.Hash >> 64));
                w.I64((long)(ulong)reference.Hash);
            }
            return;
        }
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
        if (format == SettingsKind)
            return DecodeSettings(ref r);
        if (format == CheckpointKind)
            return DecodeCheckpoint(ref r);
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

    private static KvCommand DecodeSettings(ref BinReader r)
    {
        long timestamp = r.I64("timestamp");
        long timeout = Signed(r.VarU64("session timeout"), long.MaxValue);
        int maxSessions = (int)Signed(r.VarU64("max sessions"), int.MaxValue);
        int maxValue = (int)Signed(r.VarU64("max value bytes"), int.MaxValue);
        int maxTombstones = (int)Signed(r.VarU64("max tombstones"), int.MaxValue);
        long step = Signed(r.VarU64("max clock step"), long.MaxValue);
        r.End();
        return new KvCommand(0, 0, timestamp, default, "", null, null, null)
        {
            Settings = new KvSettings(timeout, maxSessions, maxValue, maxTombstones, step),
        };
    }

    private static KvCommand DecodeCheckpoint(ref BinReader r)
    {
        long timestamp = r.I64("timestamp");
        byte hasReference = r.U8("reference flag");
        KvDigest? reference = hasReference switch
        {
            0 => null,
            1 => new KvDigest(r.VarU64("reference index"), new UInt128((ulong)r.I64("reference hash"), (ulong)r.I64("reference hash"))),
            _ => throw new KvCommandFormatException($"unknown checkpoint reference flag {hasReference}"),
        };
        r.End();
        return KvCommand.ForCheckpoint(reference, timestamp);
    }

    private static long Signed(ulong v, long max) =>
        v <= (ulong)max ? (long)v : throw new KvCommandFormatException($"setting {v} out of range");
}
