namespace RaftPS.Node.StateMachine;

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
