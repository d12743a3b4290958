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

    /// <summary>
    /// Node 1 of voters {1,2,3} elected leader of term 1 by hand (no PreVote, no CheckQuorum unless
    /// <paramref name="configure"/> says so): its no-op is at index 1, both followers are being probed, nothing is pending.
    /// </summary>
    public static Raft StandaloneLeader(Func<RaftOptions, RaftOptions>? configure = null)
    {
        var r = Node(1, Voters(1, 2, 3), configure: o => (configure ?? (x => x))(o with { PreVote = false, CheckQuorum = false }));
        r.Step(new Message { Type = MessageType.Hup, From = 1, To = 1 });
        r.Ready();
        r.Step(new Message { Type = MessageType.VoteResponse, From = 2, To = 1, Term = r.Term });
        Assert.Equal(Role.Leader, r.Role);
        r.Ready();
        return r;
    }

    /// <summary>Follower <paramref name="from"/> acknowledges the leader's log up to <paramref name="index"/>.</summary>
    public static void Ack(this Raft leader, ulong from, ulong index) =>
        leader.Step(new Message { Type = MessageType.AppendResponse, From = from, To = leader.Id, Term = leader.Term, Index = index });

    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);
}
