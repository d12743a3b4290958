using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Leadership transfer (thesis §3.10).</summary>
public class TransferTests
{
    [Theory]
    [InlineData(3, 2UL, false)]
    [InlineData(3, 3UL, true)]  // target lags: the leader catches it up first, then sends TimeoutNow
    [InlineData(5, 5UL, false)]
    [InlineData(5, 4UL, true)]
    public void TargetBecomesLeaderWithoutWaitingForTimeouts(int size, ulong target, bool lagging)
    {
        var net = T.ClusterWithLeader(size);
        if (lagging)
        {
            net.Isolate(target);
            for (int i = 0; i < 3; i++) net.Propose(1, $"v{i}");
            net.Rejoin(target);
            Assert.True(net[1].Progress[target].Match < net[1].Log.LastIndex);
        }
        var term = net[1].Term;
        Assert.True(net.Do(1, r => r.TransferLeadership(target)));
        // No ticks at all: TimeoutNow makes the target campaign at once, bypassing PreVote and the followers' lease.
        Assert.Equal(target, net.Leader.Id);
        Assert.Equal(term + 1, net.Leader.Term);
        Assert.Equal(Role.Follower, net[1].Role);
        Assert.Equal(target, net[1].Lead);
        var timeoutNow = Assert.Single(net.Delivered, m => m.Type == MessageType.TimeoutNow);
        Assert.Equal(target, timeoutNow.To);
        // The target got every entry before it was told to campaign.
        var leaderLog = Network.LogOf(net[target]);
        Assert.All(net.Nodes.Values, n => Assert.Equal(leaderLog, Network.LogOf(n)));
    }

    [Fact]
    public void ProposalsAreDroppedDuringTransferAndResumeWhenItTimesOut()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(3);
        Assert.True(net.Do(1, r => r.TransferLeadership(3)));
        Assert.Equal(3UL, net[1].LeadTransferee);
        Assert.Equal(0UL, net[1].Propose([1]));
        Assert.Equal(0UL, net[1].ProposeConfChange(T.Voters(1, 2)));
        // Asking again for the same target is accepted and changes nothing.
        Assert.True(net[1].TransferLeadership(3));
        net.Tick(10); // one election timeout: the transfer is abandoned
        Assert.Equal(0UL, net[1].LeadTransferee);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.NotEqual(0UL, net.Propose(1, "again"));
    }

    [Theory]
    [InlineData(1UL, false)] // itself
    [InlineData(9UL, false)] // not a member
    [InlineData(4UL, false)] // a learner cannot lead
    [InlineData(2UL, true)]
    public void TransferTargetValidation(ulong target, bool accepted)
    {
        var conf = new ConfState(T.Ids(1, 2, 3), T.Ids(4), [], []);
        var net = Network.Create(T.Ids(1, 2, 3, 4), conf);
        net.Campaign(1);
        Assert.Equal(accepted, net.Do(1, r => r.TransferLeadership(target)));
        Assert.False(net[3].TransferLeadership(2)); // only a leader transfers
    }
}
