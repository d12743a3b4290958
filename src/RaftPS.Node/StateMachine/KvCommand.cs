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
    /// The command that makes <paramref name="settings"/> the replicated settings. A leader proposes it like any command
    /// (with <see cref="KvSettings.From"/> of its options) while <see cref="KvStateMachine.SettingsFromLog"/> is false.
    /// It must not be written straight into each founding member's log at bootstrap unless its bytes are identical on
    /// every founding member (taken from the shared cluster file, say): entries of equal index and term must be equal.
    /// </summary>
    /// <exception cref="ArgumentException">The settings are out of range.</exception>
    public static KvCommand ForSettings(KvSettings settings, long timestampMs = 0)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Problem() is { } problem)
            throw new ArgumentException(problem, nameof(settings));
        return new KvCommand(0, 0, timestampMs, default, "", null, null, null) { Settings = settings };
    }

    /// <summary>
    /// Set on a digest checkpoint (<see cref="ForCheckpoint"/>): applying it changes nothing but the applied index (not
    /// even log time); each replica hashes its state at that index, and <see cref="KvCheckpoint.Reference"/>, the proposing
    /// leader's digest at an earlier checkpoint, is what the others compare their own with.
    /// </summary>
    public KvCheckpoint? Checkpoint { get; init; }

    /// <summary>A digest checkpoint carrying the leader's latest digest (null when it has none yet).</summary>
    public static KvCommand ForCheckpoint(KvDigest? reference, long timestampMs = 0) =>
        new(0, 0, timestampMs, default, "", null, null, null) { Checkpoint = new KvCheckpoint(reference) };

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
        && BytesEqual(ExpectedValue, other.ExpectedValue) && Equals(Settings, other.Settings)
        && Equals(Checkpoint, other.Checkpoint);

    public override int GetHashCode() => HashCode.Combine(ClientId, Sequence, TimestampMs, Op, Key, Value?.Length, ExpectedVersion);

    internal static bool BytesEqual(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}

/// <summary>The payload of a digest checkpoint: the proposing leader's digest at an earlier checkpoint, if it has one.</summary>
public sealed record KvCheckpoint(KvDigest? Reference);
