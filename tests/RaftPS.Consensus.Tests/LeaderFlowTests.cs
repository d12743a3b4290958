using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>
/// How a leader paces replication (paper §5.3 and its backtracking optimisation, etcd-style probe/replicate flow control),
/// recovers from lost datagrams, sends heartbeats (paper §5.2) and abandons a leadership transfer (thesis §3.10); and what
/// a follower answers. Driven message by message against one node so each rule is seen in isolation.
/// </summary>
public class LeaderFlowTests
{
    private static List<Message> AppendsTo(IEnumerable<Message> msgs, ulong to) =>
        msgs.Where(m => m.Type == MessageType.Append && m.To == to).ToList();

    private static void HeartbeatResponse(Raft leader, ulong from) =>
        leader.Step(new Message { Type = MessageType.HeartbeatResponse, From = from, To = leader.Id, Term = leader.Term });

    [Fact]
    public void RejectionInReplicateFallsBackToOneProbeAtATime()
    {
        var r = T.StandaloneLeader();
        r.Ack(2, 1);
        Assert.Equal(ProgressState.Replicate, r.Progress[2].State);
        r.Ready();
        r.Propose(T.Bytes("x"));
        r.Propose(T.Bytes("y"));
        Assert.Equal(2, AppendsTo(r.Ready().Messages, 2).Count); // pipelined

        // Follower 2 lost entry 2 and rejects the append that followed it (prevIndex 2).
        r.Step(new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = 1, Index = 2, Reject = true, RejectHint = 1, LogTerm = 1 });
        Assert.Equal(ProgressState.Probe, r.Progress[2].State);
        var resend = Assert.Single(AppendsTo(r.Ready().Messages, 2));
        Assert.Equal(1UL, resend.Index); // back up to the last known match (paper §5.3)
        // While the probe is unanswered nothing more is sent to 2: no blind pipelining into a log that does not match.
        r.Propose(T.Bytes("z"));
        Assert.Empty(AppendsTo(r.Ready().Messages, 2));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void LostAppendIsResentAfterExactlyOneElectionTimeoutWithoutProgress(int ticksBeforeAck)
    {
        var r = T.StandaloneLeader();
        for (int i = 0; i < ticksBeforeAck; i++)
        {
            r.Tick();
            r.Ready();
        }
        r.Ack(2, 1);
        r.Propose(T.Bytes("x"));
        Assert.Single(AppendsTo(r.Ready().Messages, 2), m => m.Entries.Any(e => e.Index == 2)); // ...and it is lost

        int resentAt = -1;
        for (int t = 1; t <= 30 && resentAt < 0; t++)
        {
            r.Tick();
            r.Ready();
            HeartbeatResponse(r, 2); // 2 is alive, but its log does not advance
            if (AppendsTo(r.Ready().Messages, 2).Any(m => m.Entries.Any(e => e.Index == 2))) resentAt = t;
        }
        Assert.Equal(10, resentAt); // ElectionTicks: not earlier (the ack may be on its way), not later
    }

    [Fact]
    public void IdleCaughtUpFollowerIsNotTreatedAsStalled()
    {
        var r = T.StandaloneLeader();
        r.Ack(2, 1);
        for (int t = 0; t < 25; t++)
        {
            r.Tick();
            r.Ready();
            HeartbeatResponse(r, 2);
            Assert.Empty(AppendsTo(r.Ready().Messages, 2));
        }
        // Still pipelining: the next proposals go out back to back without waiting for an ack.
        Assert.Equal(ProgressState.Replicate, r.Progress[2].State);
        r.Propose(T.Bytes("x"));
        r.Propose(T.Bytes("y"));
        Assert.Equal(2, AppendsTo(r.Ready().Messages, 2).Count);
    }

    [Fact]
    public void EachEntryIsSentOnceWhileReplicating()
    {
        var r = T.StandaloneLeader();
        r.Propose(T.Bytes("x")); // 2 is still being probed: held back
        Assert.Empty(AppendsTo(r.Ready().Messages, 2));
        r.Ack(2, 1);
        var sent = AppendsTo(r.Ready().Messages, 2);
        Assert.Equal([2UL], sent.SelectMany(m => m.Entries).Select(e => e.Index).ToArray());
    }

    [Fact]
    public void AcknowledgementThatCommitsNothingTriggersNoBroadcast()
    {
        var r = T.StandaloneLeader();
        r.Ack(2, 1); // commits the no-op: the leader tells everyone
        Assert.Equal(1UL, r.Log.Committed);
        r.Ready();
        r.Ack(3, 1); // 3 catches up, commit unchanged
        Assert.DoesNotContain(r.Ready().Messages, m => m.To == 2);
    }

    [Fact]
    public void AcknowledgedEntryOfAnEarlierTermCommitsNothingAndTriggersNoBroadcast()
    {
        // Paper §5.4.2 / Fig. 8: entry 1 of term 1 is not committed by counting replicas in term 2.
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(1, 0, 0, T.E(1, 1)), o => o with { PreVote = false, CheckQuorum = false });
        r.Step(new Message { Type = MessageType.Hup, From = 1 });
        r.Ready();
        r.Step(new Message { Type = MessageType.VoteResponse, From = 2, To = 1, Term = 2 });
        Assert.Equal(Role.Leader, r.Role);
        r.Ready();
        r.Ack(3, 1);
        r.Ready();
        r.Ack(2, 1);
        Assert.Equal(0UL, r.Log.Committed);
        Assert.DoesNotContain(r.Ready().Messages, m => m.To == 3);
    }

    [Fact]
    public void ResponseFromANonMemberIsIgnored()
    {
        var r = T.StandaloneLeader();
        r.Step(new Message { Type = MessageType.AppendResponse, From = 9, To = 1, Term = 1, Index = 1 });
        r.Step(new Message { Type = MessageType.HeartbeatResponse, From = 9, To = 1, Term = 1 });
        Assert.Equal(Role.Leader, r.Role);
        Assert.Equal(0UL, r.Log.Committed);
        Assert.Empty(r.Ready().Messages);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void LeaderHeartbeatsEveryHeartbeatInterval(int heartbeatTicks)
    {
        var r = T.StandaloneLeader(o => o with { HeartbeatTicks = heartbeatTicks });
        for (int round = 0; round < 3; round++)
        {
            for (int i = 1; i < heartbeatTicks; i++)
            {
                r.Tick();
                Assert.DoesNotContain(r.Ready().Messages, m => m.Type == MessageType.Heartbeat);
            }
            r.Tick();
            Assert.Equal(T.Ids(2, 3), r.Ready().Messages.Where(m => m.Type == MessageType.Heartbeat).Select(m => m.To).Order().ToArray());
        }
    }

    [Fact]
    public void LeaderNeverSendsToItself()
    {
        var net = T.ClusterWithLeader(3);
        net.Propose(1, "a");
        net.Do(1, r => r.ReadIndex(T.Bytes("r")));
        net.Beat(1);
        net.Tick(3);
        Assert.DoesNotContain(net.Sent, m => m.From == m.To);
    }

    [Fact]
    public void UnfinishedTransferIsAbandonedAfterOneElectionTimeout()
    {
        var r = T.StandaloneLeader();
        r.Ack(2, 1);
        Assert.True(r.TransferLeadership(2));
        Assert.Contains(r.Ready().Messages, m => m.Type == MessageType.TimeoutNow && m.To == 2); // ...lost
        for (int t = 1; t < 10; t++)
        {
            r.Tick();
            r.Ready();
            Assert.Equal(2UL, r.LeadTransferee);
            Assert.Equal(0UL, r.Propose(T.Bytes("held"))); // thesis §3.10: no proposals while transferring
        }
        r.Tick();
        Assert.Equal(0UL, r.LeadTransferee);
        Assert.Equal(Role.Leader, r.Role);
        Assert.True(r.Propose(T.Bytes("accepted again")) > 0);
    }

    [Fact]
    public void RejectHintNeverPointsBeyondTheProbedIndex()
    {
        // Follower log 1..5 all of term 1; the leader (term 3) probes index 3 claiming term 2 there.
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 0, T.Entries(1, 1, 1, 1, 1, 1)));
        r.Step(new Message { Type = MessageType.Append, From = 1, To = 2, Term = 3, Index = 3, LogTerm = 2, Entries = [T.E(4, 3)] });
        var resp = Assert.Single(r.Ready().Messages);
        Assert.True(resp.Reject);
        Assert.Equal(3UL, resp.Index);
        // Paper §5.3: the largest index ≤ the probed one whose term ≤ the probed term.
        Assert.Equal((3UL, 1UL), (resp.RejectHint, resp.LogTerm));
    }

    [Fact]
    public void AppendBelowTheCommitIndexIsAnsweredOnceWithTheCommitIndex()
    {
        // A delayed duplicate of an old append: everything up to commit is known to match, say so once.
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 3, T.Entries(1, 1, 1, 1)));
        r.Step(new Message { Type = MessageType.Append, From = 1, To = 2, Term = 1, Index = 1, LogTerm = 1, Entries = [T.E(2, 1)], Commit = 3 });
        var resp = Assert.Single(r.Ready().Messages);
        Assert.Equal((MessageType.AppendResponse, false, 3UL), (resp.Type, resp.Reject, resp.Index));
    }

    [Fact]
    public void SuccessfulProbeFillsThePipelineAtOnce()
    {
        // One entry per append: once follower 2 answers the probe, everything it lacks goes out back to back rather than
        // one append per round trip.
        var r = T.StandaloneLeader(o => o with { MaxSizePerMessage = 1 });
        for (int i = 0; i < 4; i++) r.Propose(T.Bytes($"e{i}")); // 2..5, held back while 2 is probed
        r.Ready();
        r.Ack(2, 1);
        var sent = AppendsTo(r.Ready().Messages, 2).Where(m => m.Entries.Count > 0).Select(m => m.Entries[0].Index).ToArray();
        Assert.Equal(T.Ids(2, 3, 4, 5), sent);
    }
}
