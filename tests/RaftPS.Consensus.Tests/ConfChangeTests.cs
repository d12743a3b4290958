using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Membership changes: single-server (thesis §4.1) and joint consensus (paper §6), learners (thesis §4.2.1).</summary>
public class ConfChangeTests
{
    private static ConfState Joint(int[] incoming, int[] outgoing) => new(T.Ids(incoming), [], T.Ids(outgoing), []);

    public static TheoryData<string, ConfState, bool> FromSimple => new()
    {
        { "add one voter", T.Voters(1, 2, 3, 4), true },
        { "remove one voter", T.Voters(1, 2), true },
        { "remove the leader", T.Voters(2, 3), true },
        { "unchanged voters", T.Voters(1, 2, 3), true },
        { "add a learner", new ConfState(T.Ids(1, 2, 3), T.Ids(4), [], []), true },
        { "demote a voter to learner", new ConfState(T.Ids(1, 2), T.Ids(3), [], []), true },
        { "swap one voter: two changes", T.Voters(1, 2, 4), false },
        { "add two voters", T.Voters(1, 2, 3, 4, 5), false },
        { "replace everyone", T.Voters(4, 5, 6), false },
        { "replace everyone jointly", Joint([4, 5, 6], [1, 2, 3]), true },
        { "swap jointly", Joint([1, 2, 4], [1, 2, 3]), true },
        { "joint with wrong outgoing half", Joint([1, 2, 4], [1, 2]), false },
        { "no voters", new ConfState([], T.Ids(1), [], []), false },
        { "voter and learner at once", new ConfState(T.Ids(1, 2, 3), T.Ids(3), [], []), false },
    };

    [Theory]
    [MemberData(nameof(FromSimple))]
    public void ValidationFromSimpleConfiguration(string name, ConfState target, bool allowed)
    {
        var net = T.ClusterWithLeader(3);
        if (allowed) Assert.True(net.Do(1, r => r.ProposeConfChange(target), deliver: false) > 0, name);
        else Assert.Throws<ArgumentException>(() => net[1].ProposeConfChange(target));
    }

    public static TheoryData<string, ConfState, bool> FromJoint => new()
    {
        { "leave to the incoming half", T.Voters(1, 2, 4), true },
        { "back to the outgoing half", T.Voters(1, 2, 3), false },
        { "another joint configuration", Joint([1, 2, 5], [1, 2, 4]), false },
        { "something else", T.Voters(1, 2, 4, 5), false },
    };

    [Theory]
    [MemberData(nameof(FromJoint))]
    public void ValidationFromJointConfiguration(string name, ConfState target, bool allowed)
    {
        var net = Network.Create(T.Ids(1, 2, 3, 4), T.Voters(1, 2, 3));
        net.Campaign(1);
        var joint = net.Do(1, r => r.ProposeConfChange(Joint([1, 2, 4], [1, 2, 3])));
        Assert.True(joint > 0);
        Assert.True(net[1].Log.Applied >= joint);
        Assert.True(net[1].Config.Voters.IsJoint);
        if (allowed) Assert.True(net.Do(1, r => r.ProposeConfChange(target)) > 0, name);
        else Assert.Throws<ArgumentException>(() => net[1].ProposeConfChange(target));
    }

    [Fact]
    public void NoChangeBeforeTheNewLeadersNoopIsApplied()
    {
        // Ongaro, raft-dev 2015: a new leader must commit an entry of its term before changing membership.
        var net = Network.Create(3);
        var noAppends = net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.Equal(0UL, net[1].ProposeConfChange(T.Voters(1, 2, 3, 4)));
        net.StopDropping(noAppends);
        net.Beat(1);
        Assert.Equal(1UL, net[1].Log.Applied);
        Assert.NotEqual(0UL, net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4))));
    }

    [Fact]
    public void OnlyOneChangeAtATime()
    {
        var net = T.ClusterWithLeader(3);
        // Node 3 is held back so the first change cannot commit yet (4 voters need 3 acks).
        net.Isolate(3);
        var first = net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4)));
        Assert.NotEqual(0UL, first);
        Assert.True(net[1].Log.Committed < first);
        // Thesis §4.1: the next change must wait until the previous one is committed (here: applied).
        Assert.Equal(0UL, net[1].ProposeConfChange(T.Voters(1, 2, 3, 4, 5)));
        Assert.Equal(0UL, net[1].ProposeConfChange(T.Voters(1, 2, 3)));
        net.Rejoin(3);
        net.Beat(1);
        Assert.True(net[1].Log.Applied >= first);
        Assert.NotEqual(0UL, net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4, 5))));
    }

    [Fact]
    public void ConfigurationTakesEffectWhenAppendedNotWhenCommitted()
    {
        var net = T.ClusterWithLeader(3);
        net.Cut(1, 3);
        var idx = net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4)));
        // Leader and follower 2 both use (1,2,3,4) at once (thesis §4.1) ...
        Assert.True(net[1].Config.IsVoter(4));
        Assert.True(net[2].Config.IsVoter(4));
        Assert.True(net[1].Progress.ContainsKey(4));
        // ... so acks from 1 and 2, a majority of the old configuration, are not enough: 3 of 4 are needed.
        Assert.True(net[2].Log.LastIndex >= idx);
        Assert.True(net[1].Log.Committed < idx);
        Assert.True(net[2].Log.Committed < idx);
        Assert.False(net[3].Config.IsVoter(4));
        net.Heal();
        net.Beat(1);
        Assert.Equal(idx, net[1].Log.Committed);
        Assert.True(net[3].Config.IsVoter(4));
    }

    public static TheoryData<string, Entry, int[]> Replacements => new()
    {
        { "replaced by a no-op", new Entry(2, 2, EntryType.Noop, []), [1, 2, 3] },
        { "replaced by a normal entry", T.E(2, 2), [1, 2, 3] },
        { "replaced by another configuration", T.Conf(2, 2, T.Voters(1, 2)), [1, 2] },
        { "replaced by the same configuration from a new term", T.Conf(2, 2, T.Voters(1, 2, 3, 4)), [1, 2, 3, 4] },
    };

    [Theory]
    [MemberData(nameof(Replacements))]
    public void TruncatedConfigurationEntryReverts(string name, Entry replacement, int[] wantVoters)
    {
        var storage = new MemoryStorage();
        var r = T.Node(2, T.Voters(1, 2, 3));
        r.Step(new Message
        {
            Type = MessageType.Append, From = 1, To = 2, Term = 1,
            Entries = [new Entry(1, 1, EntryType.Noop, []), T.Conf(2, 1, T.Voters(1, 2, 3, 4))], Commit = 1,
        });
        storage.Persist(r.Ready());
        Assert.True(r.Config.IsVoter(4), name);
        // A new leader in term 2 overwrites the uncommitted configuration entry.
        r.Step(new Message { Type = MessageType.Append, From = 3, To = 2, Term = 2, Index = 1, LogTerm = 1, Entries = [replacement], Commit = 1 });
        storage.Persist(r.Ready());
        Assert.Equal(T.Ids(wantVoters), r.Config.Voters.Incoming.Ids.ToArray());
        Assert.Equal(T.Ids(wantVoters), r.ConfStateAt(2).Voters.ToArray());
        // And a node restarted from what was persisted agrees.
        var restarted = new Raft(Network.Options(2, 1), storage.ToRecovered(), T.Voters(1, 2, 3));
        Assert.Equal(T.Ids(wantVoters), restarted.Config.Voters.Incoming.Ids.ToArray());
    }

    [Fact]
    public void UncommittedConfigurationRevertsAcrossLeaderChange()
    {
        // 5 voters. Leader 1 appends "remove 5" but only node 2 gets it; {1,2} are cut off; 3 wins and truncates it.
        var net = T.ClusterWithLeader(5, T.NoPreVoteNoCheckQuorum);
        var onlyTo2 = net.Drop(m => m.From == 1 && m.To != 2);
        var idx = net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4)));
        Assert.False(net[1].Config.IsVoter(5));
        Assert.False(net[2].Config.IsVoter(5));
        Assert.True(net[1].Log.Committed < idx);
        net.StopDropping(onlyTo2);
        foreach (var a in new ulong[] { 1, 2 })
            foreach (var b in new ulong[] { 3, 4, 5 })
                net.Cut(a, b);
        net.Campaign(3);
        Assert.Equal(Role.Leader, net[3].Role);
        net.Heal();
        net.Beat(3);
        foreach (var n in net.Nodes.Values)
        {
            Assert.True(n.Config.IsVoter(5), $"node {n.Id} should be back on the 5-voter configuration");
            Assert.Equal(EntryType.Noop, n.Log.At(idx).Type);
        }
        var restarted = net.Restart(2);
        Assert.True(restarted.Config.IsVoter(5));
    }

    [Fact]
    public void RemovedLeaderStepsDownAfterTheChangeIsAppliedAndDoesNotDisrupt()
    {
        var net = T.ClusterWithLeader(3);
        net.Cut(1, 3);
        var idx = net.Do(1, r => r.ProposeConfChange(T.Voters(2, 3)));
        // Paper §6: the removed leader keeps managing the cluster until C_new is committed (it needs both 2 and 3).
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.True(net[1].Log.Committed < idx);
        net.Heal();
        net.Beat(1);
        Assert.True(net[2].Log.Committed >= idx);
        Assert.Equal(Role.Follower, net[1].Role);
        var oldTerm = net[1].Term;
        var sentBefore = net.Sent.Count;
        // The survivors elect a leader; the removed server never campaigns and so never bumps anyone's term.
        net.TickUntil(() => net[2].Role == Role.Leader || net[3].Role == Role.Leader, 200);
        net.Tick(100);
        Assert.Equal(oldTerm, net[1].Term);
        Assert.DoesNotContain(net.Sent.Skip(sentBefore), m => m.From == 1 && m.Type is MessageType.Vote or MessageType.PreVote);
        var leader = net.Nodes.Values.Single(n => n.Role == Role.Leader);
        Assert.Equal(leader.Term, net[leader.Id == 2 ? 3UL : 2UL].Term);
        Assert.NotEqual(0UL, net.Propose(leader.Id, "after"));
        Assert.Equal(leader.Log.Committed, net[leader.Id == 2 ? 3UL : 2UL].Log.Committed);
    }

    [Fact]
    public void JointConsensusNeedsBothMajorities()
    {
        // Replace voters 1,2,3 by 4,5,6 through C_old,new (paper §6). Nodes 4..6 start knowing only the old configuration.
        var net = Network.Create(T.Ids(1, 2, 3, 4, 5, 6), T.Voters(1, 2, 3));
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        net.Isolate(5);
        net.Isolate(6);
        var joint = net.Do(1, r => r.ProposeConfChange(Joint([4, 5, 6], [1, 2, 3])));
        // New members are probed at once, without waiting for a heartbeat. All of C_old has the entry, but only 4 of
        // C_new: not committed.
        Assert.True(net[2].Log.LastIndex >= joint && net[3].Log.LastIndex >= joint && net[4].Log.LastIndex >= joint);
        Assert.True(net[1].Log.Committed < joint);
        net.Rejoin(5);
        net.Beat(1);
        Assert.Equal(joint, net[1].Log.Committed);
        Assert.True(net[4].Config.Voters.IsJoint);

        // Symmetrically, a majority of C_new (4,5) without one of C_old (only 1) commits nothing.
        net.Isolate(2);
        net.Isolate(3);
        var mid = net.Propose(1, "joint");
        Assert.True(net[4].Log.LastIndex >= mid && net[5].Log.LastIndex >= mid);
        Assert.True(net[1].Log.Committed < mid);
        net.Rejoin(2);
        net.Rejoin(3);
        net.Beat(1);
        Assert.Equal(mid, net[1].Log.Committed);

        var leave = net.Do(1, r => r.ProposeConfChange(T.Voters(4, 5, 6)));
        Assert.True(net[1].Log.Applied >= leave);
        // Leader 1 is not in C_new: it steps down once C_new is applied.
        Assert.Equal(Role.Follower, net[1].Role);
        net.Rejoin(6);
        net.TickUntil(() => net.Nodes.Values.Any(n => n.Id >= 4 && n.Role == Role.Leader), 300);
        Assert.DoesNotContain(net.Nodes.Values, n => n.Id <= 3 && n.Role == Role.Leader);
        var leader = net.Nodes.Values.Single(n => n.Role == Role.Leader);
        Assert.NotEqual(0UL, net.Propose(leader.Id, "new world"));
        Assert.All(new ulong[] { 4, 5, 6 }, id => Assert.Equal(leader.Log.Committed, net[id].Log.Committed));
    }

    [Theory]
    [InlineData(4UL, 3UL)] // incoming majority (1,4) first: still needs the outgoing one
    [InlineData(3UL, 4UL)] // outgoing majority (1,3) first: still needs the incoming one
    public void JointElectionNeedsBothMajorities(ulong firstVoter, ulong secondVoter)
    {
        // A candidate in C_old,new (incoming 1,2,4 / outgoing 1,2,3) needs a majority of each (paper §6).
        var joint = Joint([1, 2, 4], [1, 2, 3]);
        Entry[] log = [T.E(1, 1), T.Conf(2, 1, joint)];
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(1, 0, 2, log), T.NoPreVoteNoCheckQuorum);
        Assert.True(r.Config.Voters.IsJoint);
        r.Step(new Message { Type = MessageType.Hup });
        Assert.Equal(Role.Candidate, r.Role);
        var term = r.Term;
        Assert.Equal(T.Ids(2, 3, 4), r.Ready().Messages.Where(m => m.Type == MessageType.Vote).Select(m => m.To).Order().ToArray());
        r.Step(new Message { Type = MessageType.VoteResponse, From = firstVoter, To = 1, Term = term });
        Assert.Equal(Role.Candidate, r.Role);
        r.Step(new Message { Type = MessageType.VoteResponse, From = secondVoter, To = 1, Term = term });
        Assert.Equal(Role.Leader, r.Role);
    }

    [Theory]
    [InlineData(new[] { 1, 2, 3 }, new int[0], false)]
    [InlineData(new[] { 1, 2, 4 }, new[] { 1, 2, 3 }, true)]
    public void CodecRoundTrips(int[] voters, int[] outgoing, bool autoLeave)
    {
        var cs = new ConfState(T.Ids(voters), T.Ids(7, 8), T.Ids(outgoing), outgoing.Length > 0 ? T.Ids(3) : [], autoLeave);
        var back = ConfStateCodec.Decode(ConfStateCodec.Encode(cs));
        Assert.Equal(cs.Voters, back.Voters);
        Assert.Equal(cs.Learners, back.Learners);
        Assert.Equal(cs.VotersOutgoing, back.VotersOutgoing);
        Assert.Equal(cs.LearnersNext, back.LearnersNext);
        Assert.Equal(cs.AutoLeave, back.AutoLeave);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 2, 0 })]                        // unknown version
    [InlineData(new byte[] { 1, 0, 1, 0, 0 })]               // truncated count
    [InlineData(new byte[] { 1, 0, 255, 255, 255, 127 })]    // count beyond the data
    [InlineData(new byte[] { 1, 0, 255, 255, 255, 255 })]    // negative count
    [InlineData(new byte[] { 1, 0, 1, 0, 0, 0 })]             // one member announced, none present
    [InlineData(new byte[] { 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 })] // two members announced, one present
    [InlineData(new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })] // version 2: context length truncated
    public void CodecRejectsMalformedInput(byte[] data) =>
        Assert.Throws<ConfStateFormatException>(() => ConfStateCodec.Decode(data));

    [Fact]
    public void CodecRejectsTrailingBytes()
    {
        var bytes = ConfStateCodec.Encode(T.Voters(1)).Append((byte)0).ToArray();
        Assert.Throws<ConfStateFormatException>(() => ConfStateCodec.Decode(bytes));
    }
}
