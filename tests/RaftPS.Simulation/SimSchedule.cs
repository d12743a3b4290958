namespace RaftPS.Simulation;

/// <summary>
/// The fault schedule of one seed, drawn from the seed's random source before anything runs, so every seed replays
/// exactly. Seeds differ in which dangerous histories they aim at; every seed also keeps the basic faults (loss,
/// duplication, delay, crashes, torn writes, partitions, slow disks, membership changes).
/// </summary>
internal sealed record SimSchedule
{
    /// <summary>How clock rates differ between nodes.</summary>
    public enum Skew
    {
        /// <summary>Every node ticks at the same rate.</summary>
        None,
        /// <summary>Rates differ by up to ±20%: the drift a lease (CheckQuorum + vote ignoring) is built to tolerate.</summary>
        WithinLease,
        /// <summary>Rates differ by up to 3x and drift during the run: beyond what a lease assumes. Safety must still hold
        /// because RaftPS serves reads with ReadIndex, never with a lease.</summary>
        BeyondLease,
    }

    /// <summary>Process pauses (GC pause, VM suspend, SIGSTOP): the node neither ticks nor processes; its inbox and client
    /// requests pile up and are handled, oldest first, when it resumes. Aimed at the leader most of the time.</summary>
    public bool Pauses { get; init; }
    /// <summary>While a paused leader is frozen, also cut it off from its peers (the others elect and move on without it
    /// learning of the new term); clients still reach it. The stale-read history of Jepsen's etcd 0.4 and Consul analyses.</summary>
    public bool PauseIsolates { get; init; }
    public Skew ClockSkew { get; init; }
    /// <summary>Figure 8 histories on purpose: cut a new leader off with a minority, let it append, crash it; leaders of
    /// a term whose log holds uncommitted earlier-term entries crash soon after their commit index moves.</summary>
    public bool Figure8 { get; init; }
    /// <summary>One follower (often a minority partner of a crashed leader, holding a divergent tail) stays cut off for
    /// long stretches while the others move on and compact, then returns.</summary>
    public bool StaleFollowers { get; init; }
    /// <summary>Share of peer messages delivered very late (long after newer ones): stale appends and responses.</summary>
    public double LateRate { get; init; }
    /// <summary>Clients that wait long before retrying elsewhere (so an answer from a paused or deposed leader counts).</summary>
    public int PatientClients { get; init; }
    /// <summary>Applied entries between snapshots, and log entries kept after one. Aggressive compaction (a snapshot
    /// every few entries, no tail kept) makes a leader send snapshots to followers that already hold the snapshot's
    /// last entry and more (paper Fig. 13 step 6), e.g. when a reordered append is rejected while acks are in flight.</summary>
    public int SnapshotEvery { get; init; } = 40;
    public int KeepAfterCompact { get; init; } = 8;

    public static SimSchedule Draw(Random rng, int clients) => new()
    {
        Pauses = rng.Next(2) == 0,
        PauseIsolates = rng.Next(2) == 0,
        ClockSkew = (Skew)rng.Next(3),
        Figure8 = rng.Next(2) == 0,
        StaleFollowers = rng.Next(3) == 0,
        LateRate = rng.Next(2) == 0 ? 0 : rng.NextDouble() * 0.05,
        PatientClients = rng.Next(clients + 1),
        SnapshotEvery = rng.Next(4) switch { 0 => 40, 1 => 12, _ => 3 },
        KeepAfterCompact = rng.Next(4) switch { 0 => 8, 1 => 2, _ => 0 },
    };

    public override string ToString() =>
        $"pauses {(Pauses ? PauseIsolates ? "isolating" : "on" : "off")} skew {ClockSkew} fig8 {(Figure8 ? "on" : "off")} " +
        $"stale-followers {(StaleFollowers ? "on" : "off")} late {LateRate:F3} patient-clients {PatientClients} " +
        $"snapshot every {SnapshotEvery} keep {KeepAfterCompact}";
}
