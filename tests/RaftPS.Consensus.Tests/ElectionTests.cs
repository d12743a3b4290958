using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Leader election (paper §5.2, §5.4.1), PreVote (thesis §9.6), CheckQuorum (thesis §6.2), learners.</summary>
public class ElectionTests
{
    [Theory]
    [InlineData(3, true)]
    [InlineData(3, false)]
    [InlineData(5, true)]
    [InlineData(5, false)]
    [InlineData(1, true)]
    public void CampaignElectsLeader(int size, bool preVote)
    {
        var net = Network.Create(size, configure: o => o with { PreVote = preVote });
        net.Campaign(1);
        var leader = net.Leader;
        Assert.Equal(1UL, leader.Id);
        Assert.Equal(1UL, leader.Term);
        foreach (var n in net.Nodes.Values)
        {
            Assert.Equal(1UL, n.Term);
            Assert.Equal(1UL, n.Lead);
            if (n.Id != 1) Assert.Equal(Role.Follower, n.Role);
        }
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    [InlineData(3, 3)]
    [InlineData(5, 1)]
    [InlineData(5, 2)]
    [InlineData(5, 3)]
    [InlineData(7, 4)]
    public void TicksElectExactlyOneLeader(int size, int seed)
    {
        var net = Network.Create(size, seed);
        net.TickUntil(() => net.Leaders.Count() == 1 && net.Nodes.Values.All(n => n.Lead == net.Leaders.First().Id), 300);
        var leader = net.Leader;
        Assert.All(net.Nodes.Values, n => Assert.Equal(leader.Term, n.Term));
        // The harness checks one leader per term after every step; the cluster keeps it while ticking on.
        net.Tick(50);
        Assert.Same(leader, net.Leader);
    }

    [Fact]
    public void ElectionNeedsAMajority()
    {
        // 5 nodes, 3 unreachable: the candidate gets 2 of 5 votes, which is not a quorum.
        var net = Network.Create(5, configure: T.NoPreVoteNoCheckQuorum);
        net.Isolate(3);
        net.Isolate(4);
        net.Isolate(5);
        net.Campaign(1);
        Assert.Equal(Role.Candidate, net[1].Role);
        net.Rejoin(3);
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void ElectionTimeoutIsRandomizedPerElection(int seed)
    {
        // A lone node of a 3-node cluster: its pre-votes are never answered, so it times out again and again.
        var r = T.Node(1, T.Voters(1, 2, 3), seed: seed);
        var campaigns = new List<int>();
        for (int tick = 1; tick <= 400; tick++)
        {
            r.Tick();
            if (r.Ready().Messages.Any(m => m.Type == MessageType.PreVote)) campaigns.Add(tick);
        }
        var gaps = campaigns.Zip(campaigns.Skip(1), (a, b) => b - a).ToList();
        Assert.True(gaps.Count >= 15);
        Assert.All(gaps, g => Assert.InRange(g, 10, 19)); // [ElectionTicks, 2*ElectionTicks)
        Assert.True(gaps.Distinct().Count() >= 3, "timeouts must be re-randomized for every election: " + string.Join(",", gaps));
        Assert.Equal(0UL, r.Term); // PreVote never bumps the term of a node that cannot win
    }

    [Theory]
    [InlineData(false, 0UL)]
    [InlineData(true, 0UL)]
    [InlineData(false, 1UL)] // already in the candidate's term: only the vote changes, and that alone must be synced
    [InlineData(true, 1UL)]
    public void VoteIsPersistedBeforeTheReplyAndSurvivesRestart(bool restart, ulong termBefore)
    {
        var conf = T.Voters(1, 2, 3);
        var storage = new MemoryStorage { HardState = new HardState(termBefore, 0, 0) };
        var r = new Raft(Network.Options(1, 1), storage.ToRecovered(), conf);
        r.Step(new Message { Type = MessageType.Vote, From = 2, To = 1, Term = 1 });
        var rd = r.GetReady();
        var reply = Assert.Single(rd.Messages);
        Assert.Equal(MessageType.VoteResponse, reply.Type);
        Assert.False(reply.Reject);
        // The Ready carrying the grant tells the caller to persist (and fsync) the vote before sending it (paper Fig. 2).
        Assert.Equal(new HardState(1, 2, 0), rd.HardState);
        Assert.True(rd.MustSync);
        storage.Persist(rd);
        r.Advance(rd);

        if (restart) r = new Raft(Network.Options(1, 1), storage.ToRecovered(), conf);

        // A second candidate in the same term is refused.
        r.Step(new Message { Type = MessageType.Vote, From = 3, To = 1, Term = 1 });
        var second = Assert.Single(r.Ready().Messages);
        Assert.Equal(MessageType.VoteResponse, second.Type);
        Assert.Equal(3UL, second.To);
        Assert.True(second.Reject);
        Assert.Equal(2UL, r.Vote);

        // The same candidate asking again (a retried request) is granted again.
        r.Step(new Message { Type = MessageType.Vote, From = 2, To = 1, Term = 1 });
        Assert.False(Assert.Single(r.Ready().Messages).Reject);
    }

    [Fact]
    public void TwoCandidatesInOneTermCannotBothWin()
    {
        // Without PreVote, nodes 1 and 2 campaign in the same term; node 3 votes for the first one that asks.
        var net = Network.Create(3, configure: T.NoPreVoteNoCheckQuorum);
        net.Do(1, r => { r.Step(new Message { Type = MessageType.Hup }); return 0; }, deliver: false);
        net.Do(2, r => { r.Step(new Message { Type = MessageType.Hup }); return 0; }, deliver: false);
        net.DeliverAll();
        Assert.Single(net.Leaders);
        Assert.Equal(1UL, net.Leaders.Single().Term);
    }

    // Our log ends at 2@2 (term 2). Candidate in term 3 with the given last entry.
    [Theory]
    [InlineData(MessageType.Vote, 5UL, 1UL, false)] // longer log but lower last term: refused (§5.4.1)
    [InlineData(MessageType.Vote, 1UL, 3UL, true)]  // shorter log, higher last term: granted
    [InlineData(MessageType.Vote, 2UL, 2UL, true)]
    [InlineData(MessageType.Vote, 3UL, 2UL, true)]
    [InlineData(MessageType.Vote, 1UL, 2UL, false)]
    [InlineData(MessageType.PreVote, 5UL, 1UL, false)]
    [InlineData(MessageType.PreVote, 1UL, 3UL, true)]
    [InlineData(MessageType.PreVote, 1UL, 2UL, false)]
    public void VoteRequiresUpToDateLog(MessageType type, ulong lastIndex, ulong lastTerm, bool granted)
    {
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(2, 0, 1, T.E(1, 1), T.E(2, 2)));
        r.Step(new Message { Type = type, From = 2, To = 1, Term = 3, Index = lastIndex, LogTerm = lastTerm });
        var reply = Assert.Single(r.Ready().Messages);
        Assert.Equal(type == MessageType.Vote ? MessageType.VoteResponse : MessageType.PreVoteResponse, reply.Type);
        Assert.Equal(!granted, reply.Reject);
        if (type == MessageType.Vote)
        {
            Assert.Equal(3UL, r.Term);
            Assert.Equal(granted ? 2UL : 0UL, r.Vote);
        }
        else
        {
            // A pre-vote never changes the voter's term or vote (thesis §9.6).
            Assert.Equal(2UL, r.Term);
            Assert.Equal(0UL, r.Vote);
            if (granted) Assert.Equal(3UL, reply.Term);
        }
    }

    public enum Expect { StepsDown, StaysLeader }

    [Theory]
    [InlineData(MessageType.Append, true, Expect.StepsDown, 2UL)]
    [InlineData(MessageType.Heartbeat, true, Expect.StepsDown, 2UL)]
    [InlineData(MessageType.AppendResponse, true, Expect.StepsDown, 0UL)]
    [InlineData(MessageType.HeartbeatResponse, true, Expect.StepsDown, 0UL)]
    [InlineData(MessageType.VoteResponse, true, Expect.StepsDown, 0UL)]
    [InlineData(MessageType.Vote, false, Expect.StepsDown, 0UL)]
    // With PreVote/CheckQuorum a leader in its lease ignores vote requests that would depose it (thesis §4.2.3).
    [InlineData(MessageType.Vote, true, Expect.StaysLeader, 1UL)]
    [InlineData(MessageType.PreVote, true, Expect.StaysLeader, 1UL)]
    public void HigherTermMakesLeaderStepDown(MessageType type, bool lease, Expect expect, ulong wantLead)
    {
        var net = T.ClusterWithLeader(3, lease ? null : T.NoPreVoteNoCheckQuorum);
        var leader = net[1];
        var term = leader.Term;
        leader.Step(new Message { Type = type, From = 2, To = 1, Term = term + 5, Index = 1, LogTerm = term, Reject = type == MessageType.VoteResponse });
        if (expect == Expect.StepsDown)
        {
            Assert.Equal(Role.Follower, leader.Role);
            Assert.Equal(term + 5, leader.Term); // paper §5.1: adopt the higher term
        }
        else
        {
            Assert.Equal(Role.Leader, leader.Role);
            Assert.Equal(term, leader.Term);
        }
        Assert.Equal(wantLead, leader.Lead);
    }

    // Node at term 5; the message comes from an older term 3.
    [Theory]
    [InlineData(MessageType.Append, true, MessageType.AppendResponse)]
    [InlineData(MessageType.Heartbeat, true, MessageType.AppendResponse)]
    [InlineData(MessageType.PreVote, true, MessageType.PreVoteResponse)]
    [InlineData(MessageType.Vote, true, null)]
    [InlineData(MessageType.AppendResponse, true, null)]
    [InlineData(MessageType.VoteResponse, true, null)]
    [InlineData(MessageType.InstallSnapshot, true, null)]
    [InlineData(MessageType.Append, false, null)]
    public void StaleTermMessagesAreIgnoredOrAnswered(MessageType type, bool preVote, MessageType? wantReply)
    {
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(5, 0, 1, T.E(1, 1), T.E(2, 4)), o => o with { PreVote = preVote, CheckQuorum = preVote });
        var snap = new Snapshot(new SnapshotMetadata(10, 3, T.Voters(1, 2, 3)), []);
        r.Step(new Message
        {
            Type = type, From = 2, To = 1, Term = 3, Index = 2, LogTerm = 3, Commit = 2, Entries = [T.E(3, 3)],
            Snapshot = type == MessageType.InstallSnapshot ? snap : null,
        });
        var rd = r.Ready();
        if (wantReply is { } want)
        {
            var reply = Assert.Single(rd.Messages);
            Assert.Equal(want, reply.Type);
            Assert.Equal(5UL, reply.Term); // tells the stale sender about the newer term
            Assert.Equal(2UL, reply.To);
        }
        else Assert.Empty(rd.Messages);
        Assert.Equal(5UL, r.Term);
        Assert.Equal(Role.Follower, r.Role);
        Assert.Equal(0UL, r.Lead);
        Assert.Equal(2UL, r.Log.LastIndex);
        Assert.Equal(1UL, r.Log.Committed);
    }

    [Fact]
    public void StaleLeaderLearnsNewTermFromFollowersReply()
    {
        // With PreVote the majority never campaigns into the old leader's view, so a partitioned leader (CheckQuorum off)
        // only learns the new term from the answers to its own stale heartbeats.
        var net = T.ClusterWithLeader(3, o => o with { CheckQuorum = false });
        net.Isolate(1);
        net.TickUntil(() => net[2].Role == Role.Leader || net[3].Role == Role.Leader, 200);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.True(net[1].Term < net[2].Term);
        net.Rejoin(1);
        net.Beat(1); // no ticks: the new leader sends nothing, only node 1's heartbeats meet the newer term
        Assert.Equal(Role.Follower, net[1].Role);
        Assert.Equal(net[2].Term, net[1].Term);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PartitionedNodeRejoiningDoesNotDisruptWithPreVote(bool preVote)
    {
        var net = T.ClusterWithLeader(3, o => o with { PreVote = preVote });
        var term = net[1].Term;
        net.Isolate(3);
        net.Tick(100); // node 3 times out again and again
        if (preVote) Assert.Equal(term, net[3].Term);
        else Assert.True(net[3].Term > term + 3);
        net.Rejoin(3);
        net.Tick(40);
        if (preVote)
        {
            // Thesis §9.6: the rejoining node could not win a pre-vote, so it never bumped the cluster's term.
            Assert.Equal(1UL, net.Leader.Id);
            Assert.All(net.Nodes.Values, n => Assert.Equal(term, n.Term));
        }
        else
        {
            // Without PreVote the rejoining node's inflated term deposes the healthy leader.
            Assert.All(net.Nodes.Values, n => Assert.True(n.Term > term));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IsolatedLeaderStepsDownWithCheckQuorum(bool checkQuorum)
    {
        var net = T.ClusterWithLeader(3, o => o with { CheckQuorum = checkQuorum });
        net.Isolate(1);
        // Thesis §6.2: within two election timeouts (the first check still sees the activity before the partition).
        net.Tick(2 * 10);
        Assert.Equal(checkQuorum ? Role.Follower : Role.Leader, net[1].Role);
        if (checkQuorum)
        {
            Assert.Equal(0UL, net[1].Lead);
            Assert.False(net[1].ReadIndex([1]));
            Assert.Equal(0UL, net[1].Propose([1]));
        }
    }

    [Fact]
    public void LeaderWithQuorumKeepsLeadershipUnderCheckQuorum()
    {
        var net = T.ClusterWithLeader(5);
        net.Isolate(4);
        net.Isolate(5);
        net.Tick(100);
        Assert.Equal(1UL, net.Leader.Id);
        Assert.Equal(1UL, net[1].Term);
    }

    [Fact]
    public void FollowerWithLiveLeaderIgnoresVoteRequests()
    {
        // Thesis §4.2.3: a removed or partitioned server asking for votes in a higher term must not depose a live leader.
        var net = T.ClusterWithLeader(3);
        net.Tick(2);
        var follower = net[2];
        follower.Step(new Message { Type = MessageType.Vote, From = 3, To = 2, Term = 9, Index = 100, LogTerm = 9 });
        Assert.Empty(follower.Ready().Messages);
        Assert.Equal(1UL, follower.Term);
        Assert.Equal(1UL, follower.Lead);
        // ...but a transfer-forced vote (TimeoutNow) bypasses the lease.
        follower.Step(new Message { Type = MessageType.Vote, From = 3, To = 2, Term = 9, Index = 100, LogTerm = 9, Context = "transfer"u8.ToArray() });
        Assert.Equal(9UL, follower.Term);
        Assert.False(Assert.Single(follower.Ready().Messages).Reject);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LearnersNeverCampaign(bool preVote)
    {
        var conf = new ConfState(T.Ids(1, 2), T.Ids(3), [], []);
        var r = T.Node(3, conf, configure: o => o with { PreVote = preVote });
        for (int i = 0; i < 200; i++)
        {
            r.Tick();
            Assert.Empty(r.Ready().Messages);
        }
        r.Step(new Message { Type = MessageType.Hup });
        r.Step(new Message { Type = MessageType.TimeoutNow, From = 1, To = 3, Term = 1 });
        Assert.DoesNotContain(r.Ready().Messages, m => m.Type is MessageType.Vote or MessageType.PreVote);
        Assert.Equal(Role.Follower, r.Role);
        Assert.Equal(0UL, r.Vote);
    }

    [Fact]
    public void LearnerReplicatesButIsNotCounted()
    {
        var conf = new ConfState(T.Ids(1, 2), T.Ids(3), [], []);
        var net = Network.Create(T.Ids(1, 2, 3), conf);
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        net.Propose(1, "x");
        Assert.Equal(2UL, net[3].Log.Committed);
        // With the other voter gone nothing commits, however many learners have the entry.
        net.Isolate(2);
        net.Propose(1, "y");
        Assert.Equal(3UL, net[3].Log.LastIndex);
        Assert.Equal(2UL, net[1].Log.Committed);
        // And a learner's isolation leaves the leader alone.
        net.Heal();
        net.Isolate(3);
        net.Tick(40);
        Assert.Equal(1UL, net.Leader.Id);
    }
}
