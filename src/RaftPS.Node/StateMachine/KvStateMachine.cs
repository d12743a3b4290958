using System.Runtime.InteropServices;
using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// The replicated key-value store with exactly-once client sessions (Raft thesis §6.3).
/// <para>
/// Apply is a pure function of (state, index, command): it reads no clock, no local option and no hash order, so every
/// replica that applies the same log reaches the same state and returns the same results. The limits it enforces are
/// replicated <see cref="KvSettings"/>, set through the log. Session expiry runs on log time (<see cref="LogTimeMs"/>),
/// which follows the leaders' clocks as stamped into the commands. <see cref="Digest"/> hashes the whole state, so
/// replicas can check that they have not drifted.
/// </para>
/// <para>Not thread-safe: the node's event loop owns it. Returned items share their byte arrays with the store; do not modify them.</para>
/// </summary>
public sealed partial class KvStateMachine
{
    public const long DefaultSessionTimeoutMs = KvSettings.DefaultSessionTimeoutMs;
    public const int DefaultMaxSessions = KvSettings.DefaultMaxSessions;

    private sealed class Session
    {
        public ulong ClientId;
        public ulong LastSequence;
        public long LastSeenMs;
        public KvResult LastResult = null!;
    }

    // Dictionary for O(1) Get; a sorted index (ordinal) for prefix/wildcard List. Both share the key strings.
    private Dictionary<string, KvItem> _items = new(StringComparer.Ordinal);
    private SortedSet<string> _keys = new(StringComparer.Ordinal);
    private Dictionary<ulong, Session> _sessions = [];
    // Sessions ordered by (last seen in log time, client id): the eviction order, identical on every replica.
    private SortedSet<(long LastSeenMs, ulong ClientId)> _lru = [];
    // Client ids whose sessions expired or were evicted, oldest first (bounded): a retried first write of such a client
    // must not start a fresh session and apply a second time (thesis §6.3).
    private Queue<ulong> _tombstoneOrder = new();
    private HashSet<ulong> _tombstones = [];
    private long _lastTimestampMs; // the leader clock reading of the last command applied

    /// <summary>A replica as every replica starts: <see cref="KvSettings.Default"/> until the log sets others.</summary>
    public KvStateMachine() : this(KvSettings.Default) { }

    /// <summary>
    /// A replica that starts from <paramref name="initial"/> settings instead of the defaults. Every replica of a cluster
    /// must start from the same ones (tests, tools); a node uses the parameterless constructor and the log.
    /// </summary>
    /// <exception cref="ArgumentException">The settings are out of range.</exception>
    public KvStateMachine(KvSettings initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        if (initial.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(initial));
        Settings = initial;
    }

    /// <summary>Default settings with this session timeout and maximum session count (tests).</summary>
    public KvStateMachine(long sessionTimeoutMs, int maxSessions)
        : this(KvSettings.Default with { SessionTimeoutMs = Positive(sessionTimeoutMs), MaxSessions = (int)Positive(maxSessions) }) { }

    private static long Positive(long v, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(v))] string? name = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(v, name);
        return v;
    }

    /// <summary>The replicated settings in force (see <see cref="KvSettings"/>).</summary>
    public KvSettings Settings { get; private set; }

    /// <summary>
    /// Whether a settings command has been applied (else <see cref="Settings"/> are the ones the replica started with).
    /// Replicated, so a leader can decide from it, the same way whichever node leads, whether the cluster still needs
    /// its settings proposed.
    /// </summary>
    public bool SettingsFromLog { get; private set; }

    public long SessionTimeoutMs => Settings.SessionTimeoutMs;
    public int MaxSessions => Settings.MaxSessions;

    /// <summary>Index of the last log entry applied (command or no-op).</summary>
    public ulong AppliedIndex { get; private set; }

    /// <summary>
    /// The clock that session expiry runs on. Each command advances it by the time its leader's clock moved since the
    /// previous command, never backwards and at most <see cref="KvSettings.MaxClockStepMs"/>: a new leader whose clock
    /// is behind stalls it for no longer than one command, and a leader whose wall clock jumps ahead moves it by one step,
    /// not by the jump, so it cannot expire every session at once. The cost is that a quiet gap longer than a step counts
    /// as one step: idle sessions then live longer than the timeout (never shorter), still bounded by MaxSessions.
    /// </summary>
    public long LogTimeMs { get; private set; }

    /// <summary>Number of keys.</summary>
    public int Count => _items.Count;

    public int SessionCount => _sessions.Count;

    /// <summary>
    /// Applies the committed command at <paramref name="index"/>, which must be <see cref="AppliedIndex"/> + 1: a gap or
    /// a replay means the caller lost or repeated an entry, and continuing would silently diverge from the other replicas.
    /// Malformed commands are answered with BadRequest, never an exception, because every replica must agree on them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The index is not the next one.</exception>
    public KvResult Apply(ulong index, KvCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        CheckNext(index);
        AppliedIndex = index;
        // A digest checkpoint changes nothing, not even log time: asking for one must not move session expiry, and the
        // node hashes the state as it stands (a replica that cannot decode the entry applies it as a no-op, the same).
        if (command.Checkpoint is not null)
            return new KvResult(0, 0, ReplyStatus.Ok, AppliedIndex, null);
        AdvanceLogTime(command.TimestampMs);
        if (command.Settings is { } settings)
            return ApplySettings(command, settings);
        ExpireIdleSessions();

        // A write without a session cannot be deduplicated; the validator rejects it before proposing.
        if (command.ClientId == 0 || command.Sequence == 0)
            return Reject(command, ReplyStatus.BadRequest);

        if (_sessions.TryGetValue(command.ClientId, out var session))
        {
            if (command.Sequence == session.LastSequence)
            {
                // A retry of the request already applied: answer as before, apply nothing (thesis §6.3).
                Touch(session);
                return session.LastResult;
            }
            if (command.Sequence < session.LastSequence)
                return Reject(command, ReplyStatus.BadRequest); // a stale duplicate the client already got an answer for
        }
        else
        {
            // Without a session, only a lane's first request may start one; a later sequence means its session
            // expired and an earlier request may or may not have been applied, which only the client can resolve.
            if (command.Sequence > 1 || _tombstones.Contains(command.ClientId))
                return Reject(command, ReplyStatus.SessionExpired);
            EvictForCapacity();
            session = new Session { ClientId = command.ClientId, LastSeenMs = LogTimeMs };
            _sessions.Add(session.ClientId, session);
            _lru.Add((session.LastSeenMs, session.ClientId));
        }

        var result = Execute(index, command);
        session.LastSequence = command.Sequence;
        session.LastResult = result;
        Touch(session);
        return result;
    }

    /// <summary>Advances <see cref="AppliedIndex"/> over an entry that carries no command (a leader's no-op, a configuration change).</summary>
    /// <exception cref="InvalidOperationException">The index is not the next one.</exception>
    public void ApplyNoop(ulong index)
    {
        CheckNext(index);
        AppliedIndex = index;
    }

    public KvItem? Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _items.GetValueOrDefault(key);
    }

    /// <summary>
    /// Keys matching <paramref name="pattern"/> (see <see cref="KeyPattern"/>) in ordinal key order, at most
    /// <paramref name="limit"/> of them (0 = no limit). The result is a snapshot list, safe to hold while applying.
    /// </summary>
    public IEnumerable<KvItem> List(string pattern, int limit)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var result = new List<KvItem>(limit is > 0 and <= 1024 ? limit : 16);
        if (_keys.Count == 0)
            return result;
        bool glob = KeyPattern.IsWildcard(pattern);
        string prefix = KeyPattern.LiteralPrefix(pattern);
        // Keys sharing a prefix are contiguous in ordinal order: start at the prefix and stop at the first key without it.
        IEnumerable<string> range;
        if (prefix.Length == 0)
            range = _keys;
        else if (string.CompareOrdinal(prefix, _keys.Max) > 0)
            return result;
        else
            range = _keys.GetViewBetween(prefix, _keys.Max!);
        foreach (string key in range)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal))
                break;
            if (glob && !KeyPattern.GlobMatch(pattern, key))
                continue;
            result.Add(_items[key]);
            if (result.Count == limit)
                break;
        }
        return result;
    }

    /// <summary>
    /// One page of <see cref="List"/>: matches after <paramref name="after"/> (exclusive), at most <paramref name="limit"/>
    /// items or about <paramref name="maxBytes"/> of keys and values, examining at most <paramref name="maxScanned"/> keys
    /// (a wildcard that matches little must not walk the whole store in one event-loop step). When a budget stops the
    /// page early, <paramref name="continuation"/> is the last key examined; ask again after it.
    /// </summary>
    public IReadOnlyList<KvItem> ListPage(string pattern, string? after, int limit, long maxBytes, int maxScanned, out string? continuation)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var result = new List<KvItem>(Math.Min(limit, 1024));
        continuation = null;
        if (_keys.Count == 0) return result;
        bool glob = KeyPattern.IsWildcard(pattern);
        string prefix = KeyPattern.LiteralPrefix(pattern);
        string from = after is not null && string.CompareOrdinal(after, prefix) > 0 ? after : prefix;
        if (string.CompareOrdinal(from, _keys.Max) > 0) return result;
        IEnumerable<string> range = from.Length == 0 ? _keys : _keys.GetViewBetween(from, _keys.Max!);
        long bytes = 0;
        int scanned = 0;
        string? lastExamined = null;
        foreach (string key in range)
        {
            if (!key.StartsWith(prefix, StringComparison.Ordinal)) break;
            if (after is not null && string.CompareOrdinal(key, after) <= 0) continue;
            if (result.Count == limit || bytes >= maxBytes || scanned == maxScanned)
            {
                // Budget spent with keys left in range: the next page starts after the last key examined.
                continuation = lastExamined;
                return result;
            }
            scanned++;
            lastExamined = key;
            if (glob && !KeyPattern.GlobMatch(pattern, key)) continue;
            var item = _items[key];
            result.Add(item);
            bytes += key.Length * 3 + item.Value.Length + 16;
        }
        return result;
    }

    /// <summary>The session of <paramref name="clientId"/>, or null if it has none (never had one, or it expired).</summary>
    public KvSessionInfo? GetSession(ulong clientId) =>
        _sessions.TryGetValue(clientId, out var s) ? new KvSessionInfo(s.ClientId, s.LastSequence, s.LastSeenMs, s.LastResult) : null;

    private void AdvanceLogTime(long timestampMs)
    {
        if (timestampMs > _lastTimestampMs)
        {
            ulong elapsed = unchecked((ulong)(timestampMs - _lastTimestampMs)); // exact: the true difference is positive
            LogTimeMs += (long)Math.Min(elapsed, (ulong)Settings.MaxClockStepMs);
        }
        _lastTimestampMs = timestampMs;
    }

    /// <summary>
    /// Replaces the settings and brings the state within the new bounds at once, the same way on every replica:
    /// sessions idle beyond the timeout expire, the least recently used go beyond the session limit, the oldest
    /// tombstones beyond theirs. Out-of-range settings are refused and change nothing.
    /// </summary>
    private KvResult ApplySettings(KvCommand command, KvSettings settings)
    {
        if (settings.Problem() is not null)
            return Reject(command, ReplyStatus.BadRequest);
        Settings = settings;
        SettingsFromLog = true;
        ExpireIdleSessions();
        while (_sessions.Count > settings.MaxSessions)
            RemoveSession(_lru.Min);
        TrimTombstones();
        return new KvResult(0, 0, ReplyStatus.Ok, AppliedIndex, null);
    }

    private void CheckNext(ulong index)
    {
        if (index != AppliedIndex + 1)
            throw new InvalidOperationException(
                $"apply out of order: got index {index}, expected {AppliedIndex + 1} (applied index {AppliedIndex})");
    }

    private static KvResult Reject(KvCommand c, ReplyStatus status) => new(c.ClientId, c.Sequence, status, 0, null);

    private KvResult Execute(ulong index, KvCommand c)
    {
        if (c.Key is null || c.Key.Length == 0 || !Utf16.IsWellFormed(c.Key))
            return Reject(c, ReplyStatus.BadRequest);
        switch (c.Op)
        {
            case ClientOp.Put:
                if (c.Value is null)
                    return Reject(c, ReplyStatus.BadRequest);
                return c.Value.Length > Settings.MaxValueBytes ? Reject(c, ReplyStatus.ValueTooLarge) : Write(index, c, c.Value);

            case ClientOp.Delete:
                if (!_items.Remove(c.Key))
                    return new KvResult(c.ClientId, c.Sequence, ReplyStatus.KeyNotFound, 0, null);
                _keys.Remove(c.Key);
                return new KvResult(c.ClientId, c.Sequence, ReplyStatus.Ok, index, null);

            case ClientOp.CompareAndSet:
                if (c.Value is null || (c.ExpectedVersion is null && c.ExpectedValue is null))
                    return Reject(c, ReplyStatus.BadRequest);
                if (c.Value.Length > Settings.MaxValueBytes)
                    return Reject(c, ReplyStatus.ValueTooLarge);
                var current = _items.GetValueOrDefault(c.Key);
                ulong currentVersion = current?.Version ?? 0;
                bool versionOk = c.ExpectedVersion is not ulong ev || ev == currentVersion;
                bool valueOk = c.ExpectedValue is null || (current is not null && current.Value.AsSpan().SequenceEqual(c.ExpectedValue));
                return versionOk && valueOk
                    ? Write(index, c, c.Value)
                    : new KvResult(c.ClientId, c.Sequence, ReplyStatus.VersionMismatch, currentVersion, null);

            default: // reads and unknown ops are never proposed
                return Reject(c, ReplyStatus.BadRequest);
        }
    }

    private KvResult Write(ulong index, KvCommand c, byte[] value)
    {
        // Copy: the store must not change if whoever built the command reuses its buffer.
        var item = new KvItem(c.Key, (byte[])value.Clone(), index);
        ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_items, c.Key, out bool exists);
        slot = item;
        if (!exists)
            _keys.Add(c.Key);
        return new KvResult(c.ClientId, c.Sequence, ReplyStatus.Ok, index, item);
    }

    private void Touch(Session s)
    {
        if (s.LastSeenMs == LogTimeMs)
            return;
        _lru.Remove((s.LastSeenMs, s.ClientId));
        s.LastSeenMs = LogTimeMs;
        _lru.Add((s.LastSeenMs, s.ClientId));
    }

    private void ExpireIdleSessions()
    {
        // Idle means LogTime - LastSeen > timeout; LastSeen <= LogTime always, so no overflow.
        while (_lru.Count > 0)
        {
            var oldest = _lru.Min;
            if (LogTimeMs - oldest.LastSeenMs <= Settings.SessionTimeoutMs)
                break;
            RemoveSession(oldest);
        }
    }

    private void EvictForCapacity()
    {
        // Make room before adding, so the session being created is never the one evicted.
        while (_sessions.Count >= Settings.MaxSessions)
            RemoveSession(_lru.Min);
    }

    private void RemoveSession((long LastSeenMs, ulong ClientId) entry)
    {
        _lru.Remove(entry);
        _sessions.Remove(entry.ClientId);
        if (_tombstones.Add(entry.ClientId))
        {
            _tombstoneOrder.Enqueue(entry.ClientId);
            TrimTombstones();
        }
    }

    private void TrimTombstones()
    {
        while (_tombstoneOrder.Count > Settings.MaxTombstones)
            _tombstones.Remove(_tombstoneOrder.Dequeue());
    }
}
