namespace RaftPS.Consensus;

/// <summary>Source of randomness injected into the core, so a seeded source makes a whole cluster deterministic.</summary>
public interface IRandomSource
{
    /// <summary>A value in [0, maxExclusive).</summary>
    int Next(int maxExclusive);
}

/// <summary>Seeded System.Random wrapper; the core never creates randomness of its own.</summary>
public sealed class SeededRandom(int seed) : IRandomSource
{
    private readonly Random _random = new(seed);
    public int Next(int maxExclusive) => _random.Next(maxExclusive);
}

/// <summary>Tuning and protocol switches of one Raft instance. Times are in ticks (the caller decides how long a tick is).</summary>
public sealed record RaftOptions
{
    public required ulong Id { get; init; }
    /// <summary>Base election timeout; each election waits a random time in [ElectionTicks, 2*ElectionTicks) (paper §5.2).</summary>
    public int ElectionTicks { get; init; } = 10;
    public int HeartbeatTicks { get; init; } = 1;
    /// <summary>Byte budget of entries in one append message.</summary>
    public long MaxSizePerMessage { get; init; } = 1 << 20;
    /// <summary>Append messages in flight to one follower in replicate state (pipelining window).</summary>
    public int MaxInflightMessages { get; init; } = 256;
    /// <summary>Byte budget of committed entries handed out in one Ready.</summary>
    public long MaxCommittedSizePerReady { get; init; } = 16 << 20;
    /// <summary>Thesis §9.6: ask "would you vote for me" before disrupting the cluster with a new term.</summary>
    public bool PreVote { get; init; } = true;
    /// <summary>Thesis §6.2: a leader that cannot reach a quorum within an election timeout steps down.</summary>
    public bool CheckQuorum { get; init; } = true;
    public required IRandomSource Random { get; init; }

    internal void Validate()
    {
        if (Id == 0) throw new ArgumentException("node id 0 is reserved");
        if (HeartbeatTicks < 1) throw new ArgumentException("HeartbeatTicks must be at least 1");
        if (ElectionTicks <= HeartbeatTicks) throw new ArgumentException("ElectionTicks must be greater than HeartbeatTicks");
        if (MaxInflightMessages < 1) throw new ArgumentException("MaxInflightMessages must be at least 1");
        if (MaxSizePerMessage < 1) throw new ArgumentException("MaxSizePerMessage must be positive");
    }
}

/// <summary>What a node recovered from its storage (empty for a brand-new node).</summary>
public sealed record RecoveredLog(HardState HardState, Snapshot? Snapshot, IReadOnlyList<Entry> Entries)
{
    public static readonly RecoveredLog Empty = new(HardState.Empty, null, []);
}
