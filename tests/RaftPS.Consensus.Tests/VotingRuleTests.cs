using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>
/// The rules a single node applies to vote requests and to its own campaigns, driven message by message: vote granting
/// (paper §5.2, §5.4.1), PreVote (thesis §9.6), the leader lease against disruptive servers (thesis §4.2.3, §6.2),
/// and when a (pre-)candidate gives up.
/// </summary>
public class VotingRuleTests
{
    private static Message VoteRequest(MessageType type, ulong from, ulong term, ulong lastIndex = 0, ulong lastTerm = 0) =>
        new() { Type = type, From = from, To = 1, Term = term, Index = lastIndex, LogTerm = lastTerm };

    [Theory]
    // (CheckQuorum, PreVote, ticks since the leader was last heard, vote granted)
    [InlineData(true, false, 0, false)]  // CheckQuorum alone enables the lease
    [InlineData(false, true, 0, false)]  // PreVote alone enables the lease
    [InlineData(false, false, 0, true)]  // neither: plain Raft, a higher term always wins (paper §5.1)
    [InlineData(true, true, 9, false)]   // last tick of the lease
    [InlineData(true, true, 10, true)]   // an election timeout without the leader: the lease is over
    public void HigherTermVoteIsIgnoredOnlyWithinTheLeaderLease(bool checkQuorum, bool preVote, int ticks, bool granted)
    {
        // Random draw 9: this follower's own election timeout is 19 ticks, so it does not campaign while we tick.
        var r = T.Node(1, T.Voters(1, 2, 3), configure: o => o with { CheckQuorum = checkQuorum, PreVote = preVote, Random = new FixedRandom(9) });
        r.Step(new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = 1 });
        Assert.Equal(2UL, r.Lead);
        r.Ready();
        for (int i = 0; i < ticks; i++) r.Tick();
        Assert.Empty(r.Ready().Messages);

        r.Step(VoteRequest(MessageType.Vote, 3, 2));
        var msgs = r.Ready().Messages;
        if (granted)
        {
            var resp = Assert.Single(msgs);
            Assert.Equal(MessageType.VoteResponse, resp.Type);
            Assert.False(resp.Reject);
            Assert.Equal((2UL, 3UL), (r.Term, r.Vote));
        }
        else
        {
            Assert.Empty(msgs); // thesis §4.2.3: not even the term moves
            Assert.Equal((1UL, 0UL, 2UL), (r.Term, r.Vote, r.Lead));
        }
    }

    public static TheoryData<string, MessageType, ulong, ulong, bool> AfterVotingFor3InTerm2 => new()
    {
        { "same candidate asks again (retransmission)", MessageType.Vote, 3, 2, true },
        { "another candidate, same term", MessageType.Vote, 2, 2, false },
        { "pre-vote for the term we already voted in", MessageType.PreVote, 2, 2, false },
        { "pre-vote for a later term", MessageType.PreVote, 2, 3, true },
    };

    [Theory]
    [MemberData(nameof(AfterVotingFor3InTerm2))]
    public void AtMostOneVotePerTerm(string name, MessageType type, ulong from, ulong term, bool granted)
    {
        var r = T.Node(1, T.Voters(1, 2, 3), configure: o => o with { Random = new FixedRandom(9) });
        r.Step(VoteRequest(MessageType.Vote, 3, 2));
        Assert.Equal((2UL, 3UL), (r.Term, r.Vote));
        r.Ready();

        r.Step(VoteRequest(type, from, term));
        var resp = Assert.Single(r.Ready().Messages);
        Assert.Equal(type == MessageType.Vote ? MessageType.VoteResponse : MessageType.PreVoteResponse, resp.Type);
        Assert.True(granted != resp.Reject, name);
        // Paper §5.2: one vote per term, first come first served; a pre-vote records nothing (thesis §9.6).
        Assert.Equal((2UL, 3UL), (r.Term, r.Vote));
    }

    [Fact]
    public void StalePreVoteIsRejectedWithOurTerm()
    {
        // A node rejoining from a partition pre-votes for a term we are already past: it must learn it lost, not gain a vote.
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(5, 0, 0));
        r.Step(VoteRequest(MessageType.PreVote, 2, 3, lastIndex: 100, lastTerm: 2));
        var resp = Assert.Single(r.Ready().Messages);
        Assert.Equal(MessageType.PreVoteResponse, resp.Type);
        Assert.True(resp.Reject);
        Assert.Equal(5UL, resp.Term);
        Assert.Equal(5UL, r.Term);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void LeaderIgnoresHup(bool preVote)
    {
        var r = T.Node(1, T.Voters(1), configure: o => o with { PreVote = preVote });
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        Assert.Equal((Role.Leader, 1UL), (r.Role, r.Term));
        r.Ready();
        r.Step(new Message { Type = MessageType.Hup, From = 1 }); // e.g. an operator's "campaign now" reaching the leader
        Assert.Equal((Role.Leader, 1UL), (r.Role, r.Term));
        Assert.Empty(r.Ready().Messages);
    }

    [Fact]
    public void OrdinaryCampaignCannotDeposeALiveLeader()
    {
        // Thesis §4.2.3: only a transfer (TimeoutNow) may bypass the lease; a server that merely timed out (e.g. behind a
        // one-way partition) must not win votes while the others still hear the leader.
        var net = Network.Create(3, configure: o => o with { PreVote = false });
        net.Campaign(1);
        net.Campaign(2);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.Equal(Role.Candidate, net[2].Role);
        Assert.Equal((1UL, 1UL), (net[3].Term, net[3].Vote));
        Assert.All(net.Sent.Where(m => m.Type == MessageType.Vote && m.From == 2), m => Assert.Null(m.Context));
    }

    [Theory]
    [InlineData(false, MessageType.Append)]
    [InlineData(false, MessageType.Heartbeat)]
    [InlineData(false, MessageType.InstallSnapshot)]
    [InlineData(true, MessageType.Append)]
    [InlineData(true, MessageType.Heartbeat)]
    [InlineData(true, MessageType.InstallSnapshot)]
    public void CandidateFollowsALeaderOfItsOwnTerm(bool preVote, MessageType type)
    {
        // Paper §5.2: a candidate that hears from a leader of its term recognizes it and handles the message as a follower.
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(1, 0, 0), configure: o => o with { PreVote = preVote });
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        Assert.Equal(preVote ? Role.PreCandidate : Role.Candidate, r.Role);
        r.Ready();
        var term = r.Term;
        var m = type switch
        {
            MessageType.Append => new Message { Type = type, From = 2, To = 1, Term = term, Entries = [T.E(1, term)] },
            MessageType.Heartbeat => new Message { Type = type, From = 2, To = 1, Term = term },
            _ => new Message
            {
                Type = type, From = 2, To = 1, Term = term,
                Snapshot = new Snapshot(new SnapshotMetadata(5, term, T.Voters(1, 2, 3)), [1]),
            },
        };
        r.Step(m);
        Assert.Equal((Role.Follower, 2UL, term), (r.Role, r.Lead, r.Term));
        var resp = Assert.Single(r.Ready().Messages);
        Assert.Equal(type == MessageType.Heartbeat ? MessageType.HeartbeatResponse : MessageType.AppendResponse, resp.Type);
        Assert.False(resp.Reject);
        Assert.Equal(type switch { MessageType.Append => 1UL, MessageType.Heartbeat => 0UL, _ => 5UL }, resp.Index);
        Assert.Equal(resp.Index, r.Log.LastIndex);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CandidateRejectedByAMajorityBecomesFollower(bool preVote)
    {
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(1, 0, 0), configure: o => o with { PreVote = preVote });
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        r.Ready();
        var term = r.Term;
        var respType = preVote ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        r.Step(new Message { Type = respType, From = 2, To = 1, Term = term, Reject = true });
        Assert.NotEqual(Role.Follower, r.Role); // one rejection of three: undecided
        r.Step(new Message { Type = respType, From = 3, To = 1, Term = term, Reject = true });
        Assert.Equal((Role.Follower, term), (r.Role, r.Term)); // lost: wait for a leader or the next timeout
    }

    [Fact]
    public void PreVotesOfAnEarlierRoundDoNotCount()
    {
        // 5 voters: a pre-candidate needs 3 grants from the same round; a grant from a round that timed out may no longer
        // hold (that voter may have heard from a leader since).
        var r = T.Node(1, T.Voters(1, 2, 3, 4, 5));
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        r.Ready();
        r.Step(new Message { Type = MessageType.PreVoteResponse, From = 2, To = 1, Term = 1 });
        Assert.Equal(Role.PreCandidate, r.Role);

        r.Step(new Message { Type = MessageType.Hup, From = 1 }); // the pre-election timed out: a new round
        r.Ready();
        r.Step(new Message { Type = MessageType.PreVoteResponse, From = 3, To = 1, Term = 1 });
        Assert.Equal((Role.PreCandidate, 0UL), (r.Role, r.Term));
        r.Step(new Message { Type = MessageType.PreVoteResponse, From = 4, To = 1, Term = 1 });
        Assert.Equal((Role.Candidate, 1UL), (r.Role, r.Term));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void FreshOrRestartedNodeWaitsAnElectionTimeoutBeforeCampaigning(int draw)
    {
        // Paper §5.2: a server starts as a follower and only campaigns after its randomized election timeout.
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(3, 2, 0), configure: o => o with { Random = new FixedRandom(draw) });
        Assert.Equal((Role.Follower, 3UL, 2UL), (r.Role, r.Term, r.Vote));
        for (int i = 1; i < 10 + draw; i++)
        {
            r.Tick();
            Assert.Empty(r.Ready().Messages);
        }
        r.Tick();
        Assert.Equal(2, r.Ready().Messages.Count(m => m.Type == MessageType.PreVote));
    }

    [Fact]
    public void ServerWhoseRemovalIsNotCommittedStillCampaigns()
    {
        // Thesis §4.2.2: node 3 holds the uncommitted entry removing it; until it commits, 3 may be needed to elect anyone.
        var r = T.Node(3, T.Voters(1, 2, 3));
        r.Step(new Message { Type = MessageType.Append, From = 1, To = 3, Term = 1, Entries = [T.Conf(1, 1, T.Voters(1, 2))] });
        Assert.False(r.Config.IsVoter(3));
        r.Ready();
        r.Step(new Message { Type = MessageType.Hup, From = 3 });
        Assert.Equal(T.Ids(1, 2), r.Ready().Messages.Where(m => m.Type == MessageType.PreVote).Select(m => m.To).Order().ToArray());

        // Once the removal is committed, the removed server never campaigns again.
        var q = T.Node(3, T.Voters(1, 2, 3));
        q.Step(new Message { Type = MessageType.Append, From = 1, To = 3, Term = 1, Entries = [T.Conf(1, 1, T.Voters(1, 2))], Commit = 1 });
        q.Ready();
        q.Step(new Message { Type = MessageType.Hup, From = 3 });
        Assert.Empty(q.Ready().Messages);
        Assert.Equal(Role.Follower, q.Role);
    }
}
