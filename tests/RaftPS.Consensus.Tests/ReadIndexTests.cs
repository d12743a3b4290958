using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Linearizable reads by ReadIndex (thesis §6.4).</summary>
public class ReadIndexTests
{
    private static byte[] Ctx(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Fact]
    public void ReadWaitsUntilLeaderCommittedAnEntryOfItsTerm()
    {
        var net = Network.Create(3);
        var noAppends = net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        net.Campaign(1);
        var leader = net[1];
        Assert.Equal(Role.Leader, leader.Role);
        Assert.Equal(0UL, leader.Log.Committed);

        Assert.True(net.Do(1, r => r.ReadIndex(Ctx("r1"))));
        net.Beat(1); // heartbeats are answered, but leadership is not enough: the commit index may still be stale
        Assert.Empty(net.ReadStates[1]);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.Heartbeat && m.Context is { Length: > 0 });

        net.StopDropping(noAppends);
        net.Beat(1); // the no-op gets through and commits; the held read starts its heartbeat round
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.Equal(Ctx("r1"), rs.Context);
        Assert.Equal(1UL, rs.Index);
        Assert.Equal(leader.Term, leader.Log.Term(rs.Index));
    }

    [Theory]
    [InlineData(3, 0, false)]
    [InlineData(3, 1, true)]
    [InlineData(4, 1, false)]
    [InlineData(4, 2, true)]
    [InlineData(5, 1, false)]
    [InlineData(5, 2, true)]
    [InlineData(5, 4, true)]
    public void ReadNeedsHeartbeatQuorum(int size, int answering, bool released)
    {
        var net = T.ClusterWithLeader(size);
        net.Propose(1, "x");
        var commit = net[1].Log.Committed;
        // Only followers 2..answering+1 acknowledge heartbeats.
        net.Drop(m => m.Type == MessageType.HeartbeatResponse && m.From > (ulong)answering + 1);
        Assert.True(net.Do(1, r => r.ReadIndex(Ctx("q"))));
        if (released)
        {
            var rs = Assert.Single(net.ReadStates[1]);
            Assert.Equal(commit, rs.Index);
        }
        else Assert.Empty(net.ReadStates[1]);
    }

    [Fact]
    public void ConcurrentReadsAreReleasedTogether()
    {
        var net = T.ClusterWithLeader(3);
        // Only the heartbeat round of the last read is acknowledged; it proves leadership for the earlier ones too.
        net.Drop(m => m.Type == MessageType.HeartbeatResponse && !(m.Context?.SequenceEqual(Ctx("c")) ?? false));
        net.Do(1, r =>
        {
            Assert.True(r.ReadIndex(Ctx("a")));
            Assert.True(r.ReadIndex(Ctx("b")));
            Assert.True(r.ReadIndex(Ctx("c")));
            return 0;
        });
        Assert.Equal(["a", "b", "c"], net.ReadStates[1].Select(r => System.Text.Encoding.UTF8.GetString(r.Context)));
        Assert.All(net.ReadStates[1], r => Assert.Equal(net[1].Log.Committed, r.Index));
    }

    [Fact]
    public void ReadsHeldForTheNoopAreReleasedTogether()
    {
        var net = Network.Create(3);
        var noAppends = net.Drop(m => m.Type == MessageType.Append && m.From == 1);
        net.Campaign(1);
        net.Do(1, r => r.ReadIndex(Ctx("x")) && r.ReadIndex(Ctx("y")));
        Assert.Empty(net.ReadStates[1]);
        net.StopDropping(noAppends);
        net.Beat(1);
        Assert.Equal(["x", "y"], net.ReadStates[1].Select(r => System.Text.Encoding.UTF8.GetString(r.Context)));
    }

    [Fact]
    public void IsolatedLeaderProducesNoReadState()
    {
        var net = T.ClusterWithLeader(3, o => o with { CheckQuorum = false });
        net.Isolate(1);
        Assert.True(net.Do(1, r => r.ReadIndex(Ctx("stale?"))));
        net.Tick(30);
        Assert.Equal(Role.Leader, net[1].Role); // it still believes it leads...
        Assert.Empty(net.ReadStates[1]);        // ...but cannot confirm it, so no read is served
    }

    [Fact]
    public void DeposedLeaderDropsPendingReads()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(1);
        net.Do(1, r => r.ReadIndex(Ctx("lost")));
        net.Tick(2 * 10); // CheckQuorum makes it step down
        Assert.Equal(Role.Follower, net[1].Role);
        net.Heal();
        net.Tick(30);
        Assert.Empty(net.ReadStates[1]);
    }

    [Fact]
    public void ReadOnlyQueueReleasesInOrderUpToTheConfirmedRequest()
    {
        var q = new ReadOnlyQueue();
        q.Add(5, Ctx("a"));
        q.Add(6, Ctx("b"));
        q.Add(7, Ctx("a")); // same context already waiting: ignored
        q.Add(8, Ctx("c"));
        Assert.Equal(3, q.Count);
        Func<HashSet<ulong>, bool> twoAcks = acks => acks.Count >= 2;
        Assert.Empty(q.Ack(2, Ctx("zz"), twoAcks)); // unknown context
        Assert.Empty(q.Ack(2, Ctx("b"), twoAcks));
        Assert.Empty(q.Ack(2, Ctx("b"), twoAcks));  // a duplicated ack counts once
        var released = q.Ack(3, Ctx("b"), twoAcks);
        Assert.Equal([(5UL, "a"), (6UL, "b")], released.Select(r => (r.Index, System.Text.Encoding.UTF8.GetString(r.Context))));
        Assert.Equal(1, q.Count);
        q.Clear();
        Assert.Equal(0, q.Count);
    }

    [Fact]
    public void FollowerCannotServeReadIndex()
    {
        var net = T.ClusterWithLeader(3);
        Assert.False(net[2].ReadIndex(Ctx("f")));
    }

    [Fact]
    public void SingleVoterReadsImmediately()
    {
        var net = T.ClusterWithLeader(1);
        net.Propose(1, "x");
        net.Do(1, r => r.ReadIndex(Ctx("s")));
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.Equal(2UL, rs.Index);
    }
}
