using System.Buffers.Binary;
using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// Snapshot format 3 (formats 1 and 2 are still read: 1 lacks the tombstones, both lack the settings and the last
/// timestamp, which are then the defaults and the log time), little-endian, varints LEB128, strings UTF-8 with a varint length:
/// <code>
/// u32 magic "RPKV" | u8 format | varint appliedIndex | i64 logTimeMs
/// i64 lastTimestampMs | varint sessionTimeoutMs | varint maxSessions | varint maxValueBytes | varint maxTombstones
///                     | varint maxClockStepMs | u8 settingsFromLog (format 3)
/// varint keyCount,     per key (ascending ordinal):   string key | varint version | bytes value
/// varint sessionCount, per session (ascending id):    varint clientId | varint lastSequence | i64 lastSeenMs
///                      | u8 status | varint version | u8 itemKind (0 none, 1 = the key's current item: string key, varint version;
///                      2 inline: string key, varint version, bytes value)
/// varint tombstoneCount, client ids of expired sessions, oldest first (format 2)
/// u32 CRC-32C of everything before it
/// </code>
/// Keys and sessions are written in a fixed order, so equal states give equal bytes on every replica, which is what
/// <see cref="Digest"/> hashes.
/// A cached result whose item is still the key's current item refers to it instead of copying the value.
/// </summary>
public sealed partial class KvStateMachine
{
    public const uint SnapshotMagic = 0x564B_5052; // "RPKV" as little-endian bytes
    public const byte SnapshotFormatVersion = 3;

    internal const byte ItemNone = 0, ItemCurrent = 1, ItemInline = 2;
    private const int HeaderBytes = 4 + 1, TrailerBytes = 4;

    /// <summary>The whole replicated state: keys with versions, sessions with their cached results, applied index and log time.</summary>
    public byte[] TakeSnapshot() => CaptureSnapshot().Serialize();

    /// <summary>
    /// An immutable view of the state now, cheap to take (it copies references, not values: stored items are never
    /// mutated, a write replaces them), so the event loop can hand the slow part — serializing, checksumming, writing —
    /// to another thread and keep applying meanwhile. <see cref="KvSnapshotView.Serialize"/> gives exactly the bytes
    /// <see cref="TakeSnapshot"/> would have given at this moment.
    /// </summary>
    public KvSnapshotView CaptureSnapshot()
    {
        var items = new KvItem[_keys.Count];
        int i = 0;
        foreach (string key in _keys) items[i++] = _items[key];
        var sessions = new KvSessionImage[_sessions.Count];
        i = 0;
        foreach (var s in _sessions.Values)
        {
            var item = s.LastResult.Item;
            // One write makes one item per (key, version), so equal version means it is the very same item.
            bool current = item is not null && _items.TryGetValue(item.Key, out var cur) && cur.Version == item.Version;
            sessions[i++] = new KvSessionImage(s.ClientId, s.LastSequence, s.LastSeenMs, s.LastResult, current);
        }
        Array.Sort(sessions, static (a, b) => a.ClientId.CompareTo(b.ClientId));
        return new KvSnapshotView(AppliedIndex, LogTimeMs, _lastTimestampMs, Settings, SettingsFromLog, items, sessions, _tombstoneOrder.ToArray());
    }

    /// <summary>
    /// Replaces all state with the snapshot's. The snapshot is fully checked (checksum, format, ordering, references)
    /// before anything changes, so a rejected snapshot leaves the current state intact.
    /// </summary>
    /// <exception cref="KvSnapshotFormatException">The snapshot is damaged, truncated, of an unknown format or inconsistent.</exception>
    public void Restore(ReadOnlySpan<byte> snapshot)
    {
        if (snapshot.Length < HeaderBytes + TrailerBytes)
            throw new KvSnapshotFormatException($"snapshot too short ({snapshot.Length} bytes)");
        var body = snapshot[..^TrailerBytes];
        var r = new BinReader(body, snapshot: true);
        uint magic = r.U32("magic");
        if (magic != SnapshotMagic)
            throw new KvSnapshotFormatException($"not a key-value snapshot (magic 0x{magic:X8})");
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(snapshot[^TrailerBytes..]);
        uint actual = Crc32C.Compute(body);
        if (stored != actual)
            throw new KvSnapshotFormatException($"snapshot checksum mismatch (stored 0x{stored:X8}, computed 0x{actual:X8})");
        byte format = r.U8("format");
        if (format is < 1 or > SnapshotFormatVersion)
            throw new KvSnapshotFormatException($"unknown snapshot format {format} (expected 1..{SnapshotFormatVersion})");

        ulong appliedIndex = r.VarU64("applied index");
        long logTime = r.I64("log time");
        long lastTimestamp = logTime;
        KvSettings settings = KvSettings.Default;
        bool settingsFromLog = false;
        if (format >= 3)
        {
            lastTimestamp = r.I64("last timestamp");
            settings = new KvSettings(
                SnapshotSetting(ref r, "session timeout", long.MaxValue), (int)SnapshotSetting(ref r, "max sessions", int.MaxValue),
                (int)SnapshotSetting(ref r, "max value bytes", int.MaxValue), (int)SnapshotSetting(ref r, "max tombstones", int.MaxValue),
                SnapshotSetting(ref r, "max clock step", long.MaxValue));
            if (settings.Problem() is { } problem)
                throw r.Fail(problem);
            byte fromLog = r.U8("settings from log");
            if (fromLog > 1)
                throw r.Fail($"settings-from-log flag {fromLog} is not 0 or 1");
            settingsFromLog = fromLog == 1;
        }

        // Minimum encoded sizes bound the counts, so a lying count cannot make us allocate more than the input justifies.
        int keyCount = r.Length("key count", minBytesPerItem: 4);
        var keys = new string[keyCount];
        var items = new Dictionary<string, KvItem>(keyCount, StringComparer.Ordinal);
        for (int i = 0; i < keyCount; i++)
        {
            var item = ReadItem(ref r, appliedIndex, withValue: true);
            if (i > 0 && string.CompareOrdinal(keys[i - 1], item.Key) >= 0)
                throw r.Fail($"key #{i} is not after the previous key in ordinal order");
            keys[i] = item.Key;
            items.Add(item.Key, item);
        }

        int sessionCount = r.Length("session count", minBytesPerItem: 13);
        var sessions = new Dictionary<ulong, Session>(sessionCount);
        var lru = new SortedSet<(long, ulong)>();
        ulong previousClient = 0;
        for (int i = 0; i < sessionCount; i++)
        {
            ulong clientId = r.VarU64("client id");
            if (clientId <= previousClient)
                throw r.Fail($"session #{i}: client id {clientId} is zero or not ascending");
            previousClient = clientId;
            ulong lastSequence = r.VarU64("last sequence");
            if (lastSequence == 0)
                throw r.Fail($"session {clientId}: last sequence is 0");
            long lastSeen = r.I64("last seen");
            if (lastSeen > logTime)
                throw r.Fail($"session {clientId}: last seen {lastSeen} is after log time {logTime}");
            byte status = r.U8("status");
            if (!Enum.IsDefined((ReplyStatus)status))
                throw r.Fail($"session {clientId}: unknown status {status}");
            ulong version = r.VarU64("result version");
            byte kind = r.U8("item kind");
            KvItem? resultItem;
            switch (kind)
            {
                case ItemNone:
                    resultItem = null;
                    break;
                case ItemCurrent:
                    var reference = ReadItem(ref r, appliedIndex, withValue: false);
                    if (!items.TryGetValue(reference.Key, out resultItem) || resultItem.Version != reference.Version)
                        throw r.Fail($"session {clientId}: result refers to a missing item version");
                    break;
                case ItemInline:
                    resultItem = ReadItem(ref r, appliedIndex, withValue: true);
                    break;
                default:
                    throw r.Fail($"session {clientId}: unknown item kind {kind}");
            }
            var session = new Session
            {
                ClientId = clientId,
                LastSequence = lastSequence,
                LastSeenMs = lastSeen,
                LastResult = new KvResult(clientId, lastSequence, (ReplyStatus)status, version, resultItem),
            };
            sessions.Add(clientId, session);
            lru.Add((lastSeen, clientId));
        }
        var tombstoneOrder = new Queue<ulong>();
        var tombstones = new HashSet<ulong>();
        if (format >= 2)
        {
            int tombstoneCount = r.Length("tombstone count", minBytesPerItem: 1);
            if (tombstoneCount > settings.MaxTombstones) throw r.Fail($"{tombstoneCount} tombstones, more than {settings.MaxTombstones}");
            for (int i = 0; i < tombstoneCount; i++)
            {
                ulong id = r.VarU64("tombstone");
                if (id == 0 || !tombstones.Add(id) || sessions.ContainsKey(id))
                    throw r.Fail($"tombstone #{i}: client id {id} is zero, repeated or has a live session");
                tombstoneOrder.Enqueue(id);
            }
        }
        r.End();

        // All checks passed: swap in the new state. Keys were verified ascending, so the index builds from them directly.
        _items = items;
        _keys = new SortedSet<string>(keys, StringComparer.Ordinal);
        _sessions = sessions;
        _lru = lru;
        _tombstoneOrder = tombstoneOrder;
        _tombstones = tombstones;
        AppliedIndex = appliedIndex;
        LogTimeMs = logTime;
        _lastTimestampMs = lastTimestamp;
        Settings = settings;
        SettingsFromLog = settingsFromLog;
    }

    private static long SnapshotSetting(ref BinReader r, string what, long max)
    {
        ulong v = r.VarU64(what);
        return v <= (ulong)max ? (long)v : throw r.Fail($"{what} {v} out of range");
    }

    /// <summary>
    /// A hash of the whole replicated state at <see cref="KvDigest.AppliedIndex"/>: SHA-256 (first 128 bits) over the
    /// canonical snapshot encoding, so replicas that applied the same log have equal digests at equal indexes, whatever
    /// their local options, and any drift (a key, a session, a setting, log time) shows. It costs one snapshot's worth of
    /// work: call it every so often, not per entry.
    /// </summary>
    public KvDigest Digest() => CaptureSnapshot().Digest();

    private static KvItem ReadItem(ref BinReader r, ulong appliedIndex, bool withValue)
    {
        string key = r.Str("key");
        if (key.Length == 0)
            throw r.Fail("empty key");
        ulong version = r.VarU64("version");
        if (version == 0 || version > appliedIndex)
            throw r.Fail($"key version {version} outside 1..{appliedIndex}");
        return new KvItem(key, withValue ? r.Bytes("value") : [], version);
    }
}
