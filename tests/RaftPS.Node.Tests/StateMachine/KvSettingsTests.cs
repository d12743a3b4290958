using RaftPS.Node.StateMachine;
using RaftPS.Protocol;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

/// <summary>
/// The settings Apply depends on are replicated state: set by a command in the log, carried in snapshots, identical on
/// every replica whatever its local options; the digest shows whether two replicas hold the same state.
/// </summary>
public class KvSettingsTests
{
    private static readonly KvSettings Tight = new(SessionTimeoutMs: 2_000, MaxSessions: 3, MaxValueBytes: 8, MaxTombstones: 2, MaxClockStepMs: 500);

    /// <summary>The bootstrap settings command, then a workload whose values and session counts cross the tight limits.</summary>
    private static List<KvCommand?> Log(int seed)
    {
        var log = new List<KvCommand?> { KvCommand.ForSettings(Tight) };
        var rng = new Random(seed);
        foreach (var c in Workload(seed, 400))
        {
            // Some values larger than the replicated limit (8 bytes), as a node with larger local limits would propose.
            log.Add(c is not null && c.Value is not null && rng.Next(4) == 0 ? c with { Value = new byte[rng.Next(9, 40)] } : c);
        }
        return log;
    }

    private static (List<KvResult?> Results, List<KvDigest> Digests) Run(KvStateMachine sm, IEnumerable<KvCommand?> log)
    {
        var results = new List<KvResult?>();
        var digests = new List<KvDigest>();
        foreach (var c in log)
        {
            // Round-trip through the codec: replicas see the entry bytes, not the object.
            results.Add(sm.ApplyEntry(c is null ? null : KvCommandCodec.Decode(KvCommandCodec.Encode(c))));
            digests.Add(sm.Digest());
        }
        return (results, digests);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Replicas_with_different_local_options_apply_identically_and_agree_on_every_digest(int seed)
    {
        // The node's local options no longer reach Apply: each replica starts from the compiled-in defaults, and the log's
        // settings command makes the bootstrapping node's choice everyone's. Local options differ wildly here...
        var localA = new KvOptions { SessionTimeoutMs = 10, MaxSessions = 1, MaxValueBytes = 1 << 20 };
        var localB = new KvOptions { SessionTimeoutMs = 86_400_000, MaxSessions = 50_000, MaxValueBytes = 4 };
        Assert.NotEqual(KvSettings.From(localA), KvSettings.From(localB));
        var log = Log(seed);

        var (resultsA, digestsA) = Run(new KvStateMachine(), log);
        var (resultsB, digestsB) = Run(new KvStateMachine(), log);

        // ...and still both replicas give the same answers and hold the same state at every index.
        Assert.Equal(resultsA, resultsB);
        Assert.Equal(digestsA, digestsB);
        Assert.Contains(resultsA, r => r?.Status == ReplyStatus.ValueTooLarge);
        Assert.Contains(resultsA, r => r?.Status == ReplyStatus.SessionExpired);
    }

    [Fact]
    public void Replicas_that_apply_with_their_own_limits_drift_and_the_digest_shows_where()
    {
        // What the old design did: each replica applied with its local limits. The digests must catch it.
        var log = Log(7).Skip(1).ToList(); // no settings command: each keeps its own
        var (_, digestsA) = Run(new KvStateMachine(Tight), log);
        var (_, digestsB) = Run(new KvStateMachine(Tight with { MaxSessions = 4 }), log);
        Assert.NotEqual(digestsA[^1], digestsB[^1]);
        Assert.Equal(digestsA[^1].AppliedIndex, digestsB[^1].AppliedIndex);
    }

    [Fact]
    public void Digest_covers_keys_sessions_log_time_and_settings_and_survives_a_snapshot()
    {
        var sm = new KvStateMachine();
        sm.Next(Put(1, 1, "a", "1", ts: 10));
        KvDigest d0 = sm.Digest();
        Assert.Equal(d0, sm.Digest()); // deterministic

        var restored = new KvStateMachine(Tight); // whatever it started with, the snapshot's settings win
        restored.Restore(sm.TakeSnapshot());
        Assert.Equal(d0, restored.Digest());
        Assert.Equal(KvSettings.Default, restored.Settings);

        var other = new KvStateMachine();
        other.Next(Put(1, 1, "a", "2", ts: 10)); // another value
        Assert.NotEqual(d0, other.Digest());
        var later = new KvStateMachine();
        later.Next(Put(1, 1, "a", "1", ts: 11)); // another log time
        Assert.NotEqual(d0, later.Digest());
        var set = new KvStateMachine();
        set.Next(KvCommand.ForSettings(KvSettings.Default with { MaxTombstones = 5 }));
        var plain = new KvStateMachine();
        plain.NextNoop();
        Assert.Equal(set.AppliedIndex, plain.AppliedIndex);
        Assert.NotEqual(plain.Digest(), set.Digest()); // only a setting differs
    }

    [Fact]
    public void A_settings_command_brings_the_state_within_its_bounds_at_once()
    {
        var sm = new KvStateMachine();
        for (ulong c = 1; c <= 6; c++) sm.Next(Put(c, 1, "k", "v", ts: (long)c));
        Assert.Equal(6, sm.SessionCount);

        Assert.False(sm.SettingsFromLog);
        var r = sm.Next(KvCommand.ForSettings(Tight, timestampMs: 7));
        Assert.Equal(ReplyStatus.Ok, r.Status);
        Assert.Equal(Tight, sm.Settings);
        Assert.True(sm.SettingsFromLog);
        var restored = new KvStateMachine();
        restored.Restore(sm.TakeSnapshot());
        Assert.True(restored.SettingsFromLog);
        Assert.Equal(Tight, restored.Settings);
        Assert.Equal(3, sm.SessionCount);                    // the least recently used went first
        Assert.Null(sm.GetSession(1));
        Assert.NotNull(sm.GetSession(6));
        // Only two tombstones remain: clients 2 and 3 are refused, client 1 (forgotten) may start over.
        Assert.Equal(ReplyStatus.SessionExpired, sm.Next(Put(2, 1, "k", "again", ts: 8)).Status);
        Assert.Equal(ReplyStatus.Ok, sm.Next(Put(1, 1, "k", "again", ts: 8)).Status);
        // The value limit applies to Put and CompareAndSet alike, and refuses without changing anything.
        Assert.Equal(ReplyStatus.ValueTooLarge, sm.Next(Put(6, 2, "k", "123456789", ts: 9)).Status);
        Assert.Equal(ReplyStatus.ValueTooLarge, sm.Next(Cas(6, 3, "k", "123456789", null, "again", ts: 9)).Status);
        Assert.Equal("again", sm.Value("k"));
    }

    [Fact]
    public void Out_of_range_settings_are_refused_by_everyone_the_same_way()
    {
        Assert.Throws<ArgumentException>(() => KvCommand.ForSettings(KvSettings.Default with { MaxSessions = 0 }));
        // A command that bypassed the check (an older or hostile proposer) is decoded, then refused when applied.
        var bad = new KvCommand(0, 0, 5, default, "", null, null, null) { Settings = KvSettings.Default with { SessionTimeoutMs = 0 } };
        var sm = new KvStateMachine();
        Assert.Equal(ReplyStatus.BadRequest, sm.Next(bad).Status);
        Assert.Equal(KvSettings.Default, sm.Settings);
        Assert.False(sm.SettingsFromLog);
        Assert.Equal(1UL, sm.AppliedIndex);
    }

    [Fact]
    public void Settings_command_survives_the_codec()
    {
        var c = KvCommand.ForSettings(Tight, timestampMs: 1234);
        byte[] bytes = KvCommandCodec.Encode(c);
        Assert.Equal(KvCommandCodec.SettingsKind, bytes[0]);
        Assert.Equal(c, KvCommandCodec.Decode(bytes));
        Assert.NotEqual(c, KvCommandCodec.Decode(KvCommandCodec.Encode(KvCommand.ForSettings(Tight with { MaxClockStepMs = 501 }))));
        Assert.Throws<KvCommandFormatException>(() => KvCommandCodec.Decode(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Throws<KvCommandFormatException>(() => KvCommandCodec.Decode([.. bytes, 0]));
    }

    [Fact]
    public void Settings_come_from_the_bootstrapping_nodes_options()
    {
        var o = new KvOptions { SessionTimeoutMs = 5, MaxSessions = 6, MaxValueBytes = 7, MaxTombstones = 8, MaxClockStepMs = 9 };
        Assert.Equal(new KvSettings(5, 6, 7, 8, 9), KvSettings.From(o));
        Assert.Equal(KvSettings.Default, KvSettings.From(new KvOptions()));
    }
}
