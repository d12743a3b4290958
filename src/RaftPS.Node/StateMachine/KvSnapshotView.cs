using System.Buffers.Binary;
using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// The key-value state at one applied index, frozen (see <see cref="KvStateMachine.CaptureSnapshot"/>). Nothing in it
/// changes, so <see cref="Serialize"/> may run on any thread while the state machine moves on. The byte layout is
/// documented on <see cref="KvStateMachine"/>'s snapshot part.
/// </summary>
public sealed class KvSnapshotView
{
    private const int TrailerBytes = 4;
    private readonly KvItem[] _items;
    private readonly KvSessionImage[] _sessions;
    private readonly ulong[] _tombstones;

    internal KvSnapshotView(ulong appliedIndex, long logTimeMs, long lastTimestampMs, KvSettings settings, bool settingsFromLog,
        KvItem[] itemsInKeyOrder, KvSessionImage[] sessionsById, ulong[] tombstonesOldestFirst)
    {
        AppliedIndex = appliedIndex;
        LogTimeMs = logTimeMs;
        LastTimestampMs = lastTimestampMs;
        Settings = settings;
        SettingsFromLog = settingsFromLog;
        _items = itemsInKeyOrder;
        _sessions = sessionsById;
        _tombstones = tombstonesOldestFirst;
    }

    public ulong AppliedIndex { get; }
    public long LogTimeMs { get; }
    public long LastTimestampMs { get; }
    public KvSettings Settings { get; }
    public bool SettingsFromLog { get; }
    public int Count => _items.Length;

    /// <summary>The state's digest (see <see cref="KvStateMachine.Digest"/>); like <see cref="Serialize"/>, safe on any thread.</summary>
    public KvDigest Digest()
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(Serialize(), hash);
        return new KvDigest(AppliedIndex, BinaryPrimitives.ReadUInt128BigEndian(hash));
    }

    /// <summary>The snapshot bytes, checksum included.</summary>
    public byte[] Serialize()
    {
        var m = BinWriter.Measuring();
        Write(ref m);
        var buf = GC.AllocateUninitializedArray<byte>(m.Position + TrailerBytes);
        var w = BinWriter.Into(buf);
        Write(ref w);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(w.Position), Crc32C.Compute(buf.AsSpan(0, w.Position)));
        return buf;
    }

    private void Write(ref BinWriter w)
    {
        w.U32(KvStateMachine.SnapshotMagic);
        w.U8(KvStateMachine.SnapshotFormatVersion);
        w.VarU64(AppliedIndex);
        w.I64(LogTimeMs);
        w.I64(LastTimestampMs);
        w.VarU64((ulong)Settings.SessionTimeoutMs);
        w.VarU64((ulong)Settings.MaxSessions);
        w.VarU64((ulong)Settings.MaxValueBytes);
        w.VarU64((ulong)Settings.MaxTombstones);
        w.VarU64((ulong)Settings.MaxClockStepMs);
        w.U8(SettingsFromLog ? (byte)1 : (byte)0);
        w.VarU64((ulong)_items.Length);
        foreach (var item in _items)
        {
            w.Str(item.Key);
            w.VarU64(item.Version);
            w.Bytes(item.Value);
        }
        w.VarU64((ulong)_sessions.Length);
        foreach (var s in _sessions)
        {
            w.VarU64(s.ClientId);
            w.VarU64(s.LastSequence);
            w.I64(s.LastSeenMs);
            var r = s.LastResult;
            w.U8((byte)r.Status);
            w.VarU64(r.Version);
            var item = r.Item;
            if (item is null)
            {
                w.U8(KvStateMachine.ItemNone);
                continue;
            }
            w.U8(s.ResultIsCurrent ? KvStateMachine.ItemCurrent : KvStateMachine.ItemInline);
            w.Str(item.Key);
            w.VarU64(item.Version);
            if (!s.ResultIsCurrent)
                w.Bytes(item.Value);
        }
        w.VarU64((ulong)_tombstones.Length);
        foreach (var id in _tombstones) w.VarU64(id);
    }
}
