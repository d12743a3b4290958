using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// The replicated command: what the node proposes into the Raft log for a client write. Every replica applies the
/// same bytes, so everything <see cref="KvStateMachine.Apply"/> needs travels here, including the leader's clock
/// reading (<see cref="TimestampMs"/>) that drives deterministic session expiry (Raft thesis §6.3).
/// </summary>
public sealed record KvCommand(
    ulong ClientId,
    ulong Sequence,
    long TimestampMs,
    ClientOp Op,
    string Key,
    byte[]? Value,
    ulong? ExpectedVersion,
    byte[]? ExpectedValue)
{
    /// <summary>
    /// Set on a settings command (<see cref="ForSettings"/>): applying it replaces the replicated
    /// <see cref="KvSettings"/>; it belongs to no client session and every other field is ignored.
    /// </summary>
    public KvSettings? Settings { get; init; }

    /// <summary>
    /// The command that makes <paramref name="settings"/> the replicated settings. The node proposes it at cluster
    /// bootstrap (right after the first configuration entry) with <see cref="KvSettings.From"/> of its options.
    /// </summary>
    /// <exception cref="ArgumentException">The settings are out of range.</exception>
    public static KvCommand ForSettings(KvSettings settings, long timestampMs = 0)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(settings));
        return new KvCommand(0, 0, timestampMs, default, "", null, null, null) { Settings = settings };
    }

    /// <summary>Builds the command for a validated client write, stamped with the leader's clock.</summary>
    public static KvCommand FromRequest(ClientRequest request, long timestampMs)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new KvCommand(request.ClientId, request.Sequence, timestampMs, request.Op, request.Key, request.Value,
            request.ExpectedVersion, request.ExpectedValue);
    }

    // Value equality over the byte arrays, so a decoded command equals the one that was encoded.
    public bool Equals(KvCommand? other) =>
        other is not null
        && ClientId == other.ClientId && Sequence == other.Sequence && TimestampMs == other.TimestampMs
        && Op == other.Op && string.Equals(Key, other.Key, StringComparison.Ordinal)
        && BytesEqual(Value, other.Value) && ExpectedVersion == other.ExpectedVersion
        && BytesEqual(ExpectedValue, other.ExpectedValue) && Equals(Settings, other.Settings);

    public override int GetHashCode() => HashCode.Combine(ClientId, Sequence, TimestampMs, Op, Key, Value?.Length, ExpectedVersion);

    internal static bool BytesEqual(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}

/// <summary>
/// What applying a command produced. <see cref="Version"/> is the key's version after a successful write (the log
/// index), the current version (0 if absent) on <see cref="ReplyStatus.VersionMismatch"/>, else 0.
/// <see cref="Item"/> is the written item for Put and a successful CompareAndSet, otherwise null.
/// The byte arrays inside are shared with the state machine: callers must not modify them.
/// </summary>
public sealed record KvResult(ulong ClientId, ulong Sequence, ReplyStatus Status, ulong Version, KvItem? Item)
{
    // Value equality over the item's bytes: results of two replicas (or before/after a snapshot) compare equal.
    public bool Equals(KvResult? other) =>
        other is not null
        && ClientId == other.ClientId && Sequence == other.Sequence && Status == other.Status && Version == other.Version
        && ItemsEqual(Item, other.Item);

    public override int GetHashCode() => HashCode.Combine(ClientId, Sequence, Status, Version, Item?.Key, Item?.Version);

    internal static bool ItemsEqual(KvItem? a, KvItem? b) =>
        a is null ? b is null
        : b is not null && a.Version == b.Version && string.Equals(a.Key, b.Key, StringComparison.Ordinal)
          && a.Value.AsSpan().SequenceEqual(b.Value);
}

/// <summary>
/// A node's local limits. <see cref="MaxValueBytes"/> and <see cref="MaxKeyBytes"/> are checked by
/// <see cref="KvValidator"/> before a request is proposed. Apply never reads these options: the values it uses are the
/// replicated <see cref="KvSettings"/>, which a new cluster takes from its bootstrapping node's options
/// (<see cref="KvSettings.From"/>) and which change only through the log.
/// </summary>
public sealed record KvOptions
{
    public int MaxValueBytes { get; init; } = KvSettings.DefaultMaxValueBytes;
    public int MaxKeyBytes { get; init; } = 4096;
    public long SessionTimeoutMs { get; init; } = KvSettings.DefaultSessionTimeoutMs;
    public int MaxSessions { get; init; } = KvSettings.DefaultMaxSessions;
    public int MaxTombstones { get; init; } = KvSettings.DefaultMaxTombstones;
    public long MaxClockStepMs { get; init; } = KvSettings.DefaultMaxClockStepMs;
}

/// <summary>One client's session as the replicated state holds it (for diagnostics and tests).</summary>
public sealed record KvSessionInfo(ulong ClientId, ulong LastSequence, long LastSeenMs, KvResult LastResult);
