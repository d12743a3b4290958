namespace RaftPS.Node.StateMachine;

/// <summary>
/// The settings <see cref="KvStateMachine.Apply"/> depends on. They are replicated state, not local configuration:
/// a replica starts from <see cref="Default"/>, changes them only by applying a settings command from the log
/// (<see cref="KvCommand.ForSettings"/>, proposed for a new cluster), and carries them in snapshots. So two
/// replicas with different local <see cref="KvOptions"/> still apply every entry identically.
/// </summary>
/// <param name="SessionTimeoutMs">Sessions idle longer than this, in log time, expire.</param>
/// <param name="MaxSessions">At most this many sessions are kept; the least recently used go first.</param>
/// <param name="MaxValueBytes">A write whose value is larger is answered with ValueTooLarge and changes nothing.</param>
/// <param name="MaxTombstones">How many expired or evicted client ids are remembered (so their retried first write is refused).</param>
/// <param name="MaxClockStepMs">The most that log time advances per command, however far the leader's clock moved: a
/// leader whose wall clock jumps ahead cannot expire every session at once (see <see cref="KvStateMachine.LogTimeMs"/>).</param>
public sealed record KvSettings(long SessionTimeoutMs, int MaxSessions, int MaxValueBytes, int MaxTombstones, long MaxClockStepMs)
{
    public const long DefaultSessionTimeoutMs = 3_600_000;
    public const int DefaultMaxSessions = 100_000;
    public const int DefaultMaxValueBytes = 1 << 20;
    public const int DefaultMaxTombstones = 1_000_000;
    public const long DefaultMaxClockStepMs = 60_000;

    /// <summary>What every replica starts from before the log sets anything (compiled in, so the same everywhere).</summary>
    public static KvSettings Default { get; } = new(DefaultSessionTimeoutMs, DefaultMaxSessions, DefaultMaxValueBytes,
        DefaultMaxTombstones, DefaultMaxClockStepMs);

    /// <summary>The settings a new cluster gets from the options of the node that proposes them.</summary>
    public static KvSettings From(KvOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new KvSettings(options.SessionTimeoutMs, options.MaxSessions, options.MaxValueBytes, options.MaxTombstones, options.MaxClockStepMs);
    }

    /// <summary>Why these settings cannot be applied, or null if they can.</summary>
    public string? Problem() =>
        SessionTimeoutMs <= 0 ? $"session timeout must be positive, got {SessionTimeoutMs}"
        : MaxSessions <= 0 ? $"maximum sessions must be positive, got {MaxSessions}"
        : MaxValueBytes <= 0 ? $"maximum value size must be positive, got {MaxValueBytes}"
        : MaxTombstones < 0 ? $"maximum tombstones must not be negative, got {MaxTombstones}"
        : MaxClockStepMs <= 0 ? $"maximum clock step must be positive, got {MaxClockStepMs}"
        : null;
}
