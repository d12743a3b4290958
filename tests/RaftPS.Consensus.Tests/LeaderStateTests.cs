using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>
/// What a leader knows and reports: per-follower progress across elections and membership changes (paper Fig. 2
/// "reinitialized after election", thesis §4), CheckQuorum grace for new members (thesis §6.2), the status the node layer
/// reads (HeardFromRecently, pending configuration change, thesis §4.1), and ReadIndex reads that must not outlive the
/// leadership that accepted them (thesis §6.4).
/// </summary>
public class LeaderStateTests
{
    private static bool IsCtx(ReadState rs, string s) => rs.Context.AsSpan().SequenceEqual(T.Bytes(s));

    [Fact]
    public void NewLeaderStartsWithNoKnowledgeOfFollowerLogs()
    {
        var net = Network.Create(3, configure: T.NoPreVoteNoCheckQuorum);
        net.Campaign(1);
        net.Propose(1, "a");
        Assert.Equal(2UL, net[1].Progress[2].Match);
        net.Campaign(2); // term 2
        Assert.Equal(Role.Leader, net[2].Role);

        net.Drop(m => m.From == 1 && m.Type == MessageType.Append);
        net.Campaign(1); // term 3: its appends are lost, so nothing has been acknowledged in this term yet
        var leader = net[1];
        Assert.Equal((Role.Leader, 3UL), (leader.Role, leader.Term));
        // Paper Fig. 2: nextIndex = leader's last index + 1 (before its no-op), matchIndex = 0. A match remembered from an
        // earlier term could count a follower whose log has since been overwritten.
        foreach (var id in T.Ids(2, 3))
        {
            Assert.Equal(0UL, leader.Progress[id].Match);
            Assert.Equal(leader.Log.LastIndex, leader.Progress[id].Next);
            Assert.Equal(ProgressState.Probe, leader.Progress[id].State);
        }
    }

    [Fact]
    public void MembershipChangeKeepsProgressOfRemainingMembersAndDropsRemovedOnes()
    {
        var net = Network.Create(T.Ids(1, 2, 3, 4), new ConfState(T.Ids(1, 2, 3), T.Ids(4), [], []));
        net.Campaign(1);
        net.Propose(1, "a");
        var leader = net[1];
        Assert.True(leader.Progress[4].IsLearner);
        Assert.False(leader.Progress[2].IsLearner);

        // Promote learner 4 (thesis §4.2.1): it now counts for commitment; what the leader knows of everyone's log stays.
        net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 3, 4)), deliver: false);
        Assert.All(T.Ids(2, 3, 4), id =>
        {
            Assert.False(leader.Progress[id].IsLearner);
            Assert.Equal(2UL, leader.Progress[id].Match);
            Assert.Equal(ProgressState.Replicate, leader.Progress[id].State);
        });
        net.DeliverAll();

        // Remove 3: the leader stops tracking and replicating to it at once (thesis §4.1: a configuration takes effect
        // when appended).
        var sentBefore = net.Sent.Count;
        net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2, 4)), deliver: false);
        Assert.False(leader.Progress.ContainsKey(3));
        Assert.Equal(T.Ids(1, 2, 4), leader.Progress.Keys.Order().ToArray());
        net.DeliverAll();
        net.Propose(1, "b");
        Assert.DoesNotContain(net.Sent.Skip(sentBefore), m => m.From == 1 && m.To == 3);
        Assert.Equal(leader.Log.LastIndex, net[4].Log.Committed);
    }

    [Fact]
    public void NewMemberGetsOneElectionTimeoutBeforeCheckQuorumCountsItAsDown()
    {
        // A single node adds a second voter that has not started yet: with CheckQuorum the leader keeps office for one
        // election timeout (the newcomer counts as recently active), then steps down as it hears from no quorum (thesis §6.2).
        var net = Network.Create(T.Ids(1), T.Voters(1));
        net.Campaign(1);
        Assert.True(net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2))) > 0);
        net.Tick(10);
        Assert.Equal(Role.Leader, net[1].Role);
        net.Tick(10);
        Assert.Equal(Role.Follower, net[1].Role);
    }

    [Fact]
    public void HeardFromRecentlyMeansWithinOneElectionTimeout()
    {
        var net = T.ClusterWithLeader(3);
        var leader = net[1];
        net.Isolate(3);
        net.Tick(9);
        Assert.True(leader.HeardFromRecently(1));
        Assert.True(leader.HeardFromRecently(2));
        Assert.True(leader.HeardFromRecently(3));
        net.Tick();
        Assert.True(leader.HeardFromRecently(1));
        Assert.True(leader.HeardFromRecently(2));
        Assert.False(leader.HeardFromRecently(3));
        Assert.False(leader.HeardFromRecently(9)); // not a member

        // Only a leader tracks its peers; any node counts itself.
        var follower = net[2];
        Assert.True(follower.HeardFromRecently(2));
        Assert.False(follower.HeardFromRecently(1));
        Assert.False(follower.HeardFromRecently(3));
    }

    [Fact]
    public void PendingConfigurationChangeIsReportedUntilApplied()
    {
        var net = Network.Create(3);
        var noAppends = net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        net.Campaign(1);
        var leader = net[1];
        // Thesis §4.1 / raft-dev 2015: the new leader's no-op blocks changes until applied, but it is not a configuration entry.
        Assert.True(leader.ConfChangePending);
        Assert.False(leader.ConfEntryPending);
        Assert.Equal(1UL, leader.PendingConfIndex);

        net.StopDropping(noAppends);
        net.Beat(1);
        Assert.Equal(1UL, leader.Log.Applied);
        Assert.False(leader.ConfChangePending);
        Assert.False(leader.ConfEntryPending);

        net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        var index = net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2)));
        Assert.True(leader.ConfChangePending);
        Assert.True(leader.ConfEntryPending);
        Assert.Equal(index, leader.PendingConfIndex);
        Assert.Equal(0UL, leader.ProposeConfChange(T.Voters(1, 2, 3))); // one change at a time

        var follower = net[2];
        Assert.False(follower.ConfChangePending);
        Assert.False(follower.ConfEntryPending);
        Assert.Equal(0UL, follower.PendingConfIndex);

        net.Heal();
        net.Beat(1);
        Assert.Equal(index, leader.Log.Applied);
        Assert.False(leader.ConfChangePending);
        Assert.False(leader.ConfEntryPending);
    }

    [Fact]
    public void SingleVoterAnswersReadIndexAtOnce()
    {
        var net = Network.Create(1);
        net.Campaign(1);
        Assert.True(net.Do(1, r => r.ReadIndex(T.Bytes("solo"))));
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.Equal(1UL, rs.Index);
    }

    [Fact]
    public void ReadUnconfirmedWhenLeadershipWasLostIsNeverAnswered()
    {
        var net = Network.Create(3, configure: T.NoPreVoteNoCheckQuorum);
        net.Campaign(1);
        var noBeats = net.Drop(m => m.From == 1 && m.Type == MessageType.Heartbeat);
        Assert.True(net.Do(1, r => r.ReadIndex(T.Bytes("old")))); // read index 1; its confirmation round is lost
        net.Campaign(2);
        var w = net.Propose(2, "w"); // a write the old read index does not cover
        net.StopDropping(noBeats);
        net.Campaign(1); // leader again, in term 3
        net.Beat(1);
        // Answering "old" now would return index 1 < w: a stale read (thesis §6.4). The node fails such reads itself.
        Assert.DoesNotContain(net.ReadStates[1], rs => IsCtx(rs, "old"));

        // The client may retry with the same context; the new leadership serves it at its current commit index.
        Assert.True(net.Do(1, r => r.ReadIndex(T.Bytes("old"))));
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.True(rs.Index > w);
    }

    [Fact]
    public void ReadHeldForTheNoopIsDroppedWhenLeadershipIsLost()
    {
        var net = Network.Create(3, configure: T.NoPreVoteNoCheckQuorum);
        var noAppends = net.Drop(m => m.From == 1 && m.Type == MessageType.Append);
        net.Campaign(1);
        Assert.True(net.Do(1, r => r.ReadIndex(T.Bytes("held")))); // waits for the no-op, which never arrives
        net.Campaign(2);
        net.StopDropping(noAppends);
        net.Campaign(1);
        net.Beat(1);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.Equal(net[1].Term, net[1].Log.Term(net[1].Log.Committed));
        Assert.Empty(net.ReadStates[1]);
    }

    [Fact]
    public void ReadHeldForTheNoopIsAnsweredOnce()
    {
        var net = Network.Create(3);
        var noAppends = net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        net.Campaign(1);
        Assert.True(net.Do(1, r => r.ReadIndex(T.Bytes("r1"))));
        net.StopDropping(noAppends);
        net.Beat(1);
        net.Propose(1, "x");
        net.Beat(1);
        net.Propose(1, "y");
        net.Beat(1);
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.Equal(1UL, rs.Index);
    }

    [Fact]
    public void CheckQuorumClockStartsWithTheLeadership()
    {
        // Thesis §6.2: a new leader has a full election timeout to hear from a quorum; ticks spent campaigning do not count.
        var r = T.Node(1, T.Voters(1, 2, 3), configure: o => o with { PreVote = false, Random = new FixedRandom(9) });
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        r.Ready();
        for (int i = 0; i < 5; i++)
        {
            r.Tick();
            r.Ready();
        }
        r.Step(new Message { Type = MessageType.VoteResponse, From = 2, To = 1, Term = 1 });
        Assert.Equal(Role.Leader, r.Role);
        r.Ready();
        // Nobody answers: the first check (tick 10) still counts everyone as active from the election, the second steps down.
        for (int t = 1; t < 20; t++)
        {
            r.Tick();
            r.Ready();
            Assert.Equal(Role.Leader, r.Role);
        }
        r.Tick();
        Assert.Equal(Role.Follower, r.Role);
    }
}
