using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Small builders shared by the tests.</summary>
internal static class T
{
    /// <summary>Normal entry index@term with a payload naming it, so different entries never compare equal by accident.</summary>
    public static Entry E(ulong index, ulong term) =>
        new(term, index, EntryType.Normal, System.Text.Encoding.UTF8.GetBytes($"{index}@{term}"));

    /// <summary>Entries for indexes first..first+terms.Length-1 with the given terms.</summary>
    public static Entry[] Entries(ulong first, params ulong[] terms) =>
        terms.Select((t, i) => E(first + (ulong)i, t)).ToArray();

    public static Entry Conf(ulong index, ulong term, ConfState cs) => new(term, index, EntryType.ConfChange, ConfStateCodec.Encode(cs));

    public static ulong[] Ids(params int[] ids) => ids.Select(i => (ulong)i).ToArray();

    public static ConfState Voters(params int[] ids) => ConfState.Of(Ids(ids));

    /// <summary>A log holding the given entries after an optional snapshot point.</summary>
    public static RaftLog Log(ulong snapIndex, ulong snapTerm, params Entry[] entries)
    {
        var log = new RaftLog(snapIndex, snapTerm);
        log.LoadStable(entries);
        return log;
    }

    /// <summary>One standalone node, e.g. to step hand-made messages into it.</summary>
    public static Raft Node(ulong id, ConfState conf, RecoveredLog? recovered = null, Func<RaftOptions, RaftOptions>? configure = null, int seed = 1) =>
        new(Network.Options(id, seed, configure), recovered ?? RecoveredLog.Empty, conf);

    /// <summary>Recovered state: hard state plus stable entries.</summary>
    public static RecoveredLog Recovered(ulong term, ulong vote, ulong commit, params Entry[] entries) =>
        new(new HardState(term, vote, commit), null, entries);

    /// <summary>Collects one Ready and acknowledges it (as if persisted, sent and applied).</summary>
    public static Ready Ready(this Raft r)
    {
        var rd = r.GetReady();
        r.Advance(rd);
        return rd;
    }

    public static RaftOptions NoPreVoteNoCheckQuorum(RaftOptions o) => o with { PreVote = false, CheckQuorum = false };

    /// <summary>A cluster 1..size where node 1 has been elected and everything settled.</summary>
    public static Network ClusterWithLeader(int size, Func<RaftOptions, RaftOptions>? configure = null, int seed = 1)
    {
        var net = Network.Create(size, seed, configure);
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        return net;
    }
}
