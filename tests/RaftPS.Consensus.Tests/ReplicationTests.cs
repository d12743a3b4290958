using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Log replication and the commit rule (paper §5.3, §5.4.2 and Figure 8, §8).</summary>
public class ReplicationTests
{
    private static bool IsAppend(Message m) => m.Type == MessageType.Append;

    /// <summary>
    /// Figure 8 of the paper, with the no-op every new leader appends. Indexes: 1 is the first leader's no-op.
    /// (a) S1 leads term 1 and replicates index 2 (term 1) only to S2. (b) S1 crashes; S5 wins term 2 with S3, S4 and
    /// writes index 2 (term 2) only locally. (c) S5 crashes; S1 wins term 3 and replicates its old index 2 to S3 and S4,
    /// so a majority stores it, but its own no-op (index 3, term 3) reaches nobody: index 2 must NOT count as committed.
    /// (d) S1 crashes; S5 wins term 4 (its last term 2 beats their 1) and overwrites index 2 everywhere.
    /// With <paramref name="currentTermEntryReachesMajority"/>, S1's term-3 entry reaches the majority in (c): then
    /// everything up to it is committed and S5 can never win (e).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Figure8(bool currentTermEntryReachesMajority)
    {
        // One entry per message, so the old entry and the new no-op travel separately.
        var net = Network.Create(5, configure: o => T.NoPreVoteNoCheckQuorum(o) with { MaxSizePerMessage = 1 });
        net.Campaign(1);
        Assert.All(net.Nodes.Values, n => Assert.Equal(1UL, n.Log.Committed));

        // (a)
        net.Cut(1, 3);
        net.Cut(1, 4);
        net.Cut(1, 5);
        Assert.Equal(2UL, net.Propose(1, "old"));
        Assert.Equal(["1@1", "2@1"], Network.LogOf(net[2]));
        Assert.Equal(1UL, net[1].Log.Committed);

        // (b)
        net.Heal();
        net.Isolate(1);
        var silence5 = net.Drop(m => m.From == 5 && IsAppend(m));
        net.Campaign(5);
        Assert.Equal(Role.Leader, net[5].Role);
        Assert.Equal(2UL, net[5].Term);
        Assert.Equal(["1@1", "2@2"], Network.LogOf(net[5]));
        Assert.Equal(["1@1"], Network.LogOf(net[3]));

        // (c)
        net.StopDropping(silence5);
        net.Isolate(5);
        net.Restart(1); // a crashed server comes back as a follower with what it persisted
        net.Rejoin(1);
        if (!currentTermEntryReachesMajority)
        {
            // Followers that already hold index 2 never receive anything beyond it from S1.
            net.Drop(m => m.From == 1 && IsAppend(m) && m.Entries.Any(e => e.Index >= 3) && net[m.To].Log.MatchTerm(2, 1));
        }
        net.Campaign(1); // term 2: S3 and S4 already voted for S5
        net.Campaign(1); // term 3
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.Equal(3UL, net[1].Term);
        foreach (var id in new ulong[] { 2, 3, 4 }) Assert.True(net[id].Log.MatchTerm(2, 1), $"S{id} should hold 2@1");
        if (!currentTermEntryReachesMajority)
        {
            Assert.True(net[1].Progress[3].Match >= 2 && net[1].Progress[4].Match >= 2, "a majority (S1,S3,S4) stores index 2");
            // §5.4.2: never commit an entry of an earlier term by counting replicas.
            Assert.Equal(1UL, net[1].Log.Committed);
            Assert.All(net.Nodes.Values, n => Assert.Equal(1UL, n.Log.Committed));
        }
        else
        {
            Assert.Equal(3UL, net[1].Log.Committed);
        }

        // (d)
        net.Heal();
        net.Isolate(1);
        net.Restart(5);
        net.Campaign(5); // term 3: everyone already voted for S1
        net.Campaign(5); // term 4
        if (!currentTermEntryReachesMajority)
        {
            Assert.Equal(Role.Leader, net[5].Role);
            Assert.Equal(4UL, net[5].Term);
            foreach (var id in new ulong[] { 2, 3, 4, 5 })
                Assert.Equal(["1@1", "2@2", "3@4"], Network.LogOf(net[id]));
            Assert.Equal(3UL, net[5].Log.Committed);
            // S1 comes back and its uncommitted suffix is overwritten too.
            net.Restart(1);
            net.Rejoin(1);
            net.Beat(5);
            Assert.Equal(Role.Follower, net[1].Role);
            Assert.Equal(["1@1", "2@2", "3@4"], Network.LogOf(net[1]));
            Assert.DoesNotContain(net.Applied.Values.SelectMany(a => a), e => e.Term == 1 && e.Index == 2);
        }
        else
        {
            // (e) S2, S3, S4 hold the committed term-3 entry; S5's log (last term 2) is not up to date enough.
            Assert.NotEqual(Role.Leader, net[5].Role);
            Assert.DoesNotContain(net.Leaders, l => l.Id != 1);
            Assert.All(new ulong[] { 2, 3, 4 }, id => Assert.True(net[id].Log.MatchTerm(3, 3)));
        }
    }

    [Fact]
    public void OldTermEntriesCommitOnlyWithCurrentTermEntry()
    {
        // Node 1 recovers with an uncommitted 2@1 and is elected in term 2; acks for index 2 alone commit nothing.
        var rec = T.Recovered(1, 0, 1, T.E(1, 1), T.E(2, 1));
        var r = T.Node(1, T.Voters(1, 2, 3), rec, T.NoPreVoteNoCheckQuorum);
        r.Step(new Message { Type = MessageType.Hup });
        r.Step(new Message { Type = MessageType.VoteResponse, From = 2, To = 1, Term = 2 });
        Assert.Equal(Role.Leader, r.Role);
        Assert.Equal(3UL, r.Log.LastIndex); // the no-op
        r.Ready();
        r.Step(new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = 2, Index = 2 });
        Assert.Equal(1UL, r.Log.Committed);
        r.Step(new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = 2, Index = 3 });
        Assert.Equal(3UL, r.Log.Committed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public void NewLeaderAppendsNoop(int size)
    {
        var net = T.ClusterWithLeader(size);
        AssertNoopOfLeaderTermCommitted(net);
        if (size > 1)
        {
            // A second leader (by transfer) starts its term with a no-op as well, after earlier proposals.
            net.Propose(1, "a");
            net.Do(1, r => r.TransferLeadership(2));
            Assert.Equal(2UL, net.Leader.Id);
            AssertNoopOfLeaderTermCommitted(net);
        }
    }

    private static void AssertNoopOfLeaderTermCommitted(Network net)
    {
        var leader = net.Leader;
        var last = leader.Log.At(leader.Log.LastIndex);
        Assert.Equal(EntryType.Noop, last.Type);
        Assert.Equal(leader.Term, last.Term);
        Assert.Empty(last.Data);
        Assert.All(net.Nodes.Values, n => Assert.Equal(last.Index, n.Log.Committed));
        Assert.All(net.Applied.Values, a => Assert.Equal(last, a[^1]));
    }

    // Follower log 1@1 2@1 3@2 4@2 (3 and 4 from an old leader), commit 1; a term-3 leader sends these.
    [Theory]
    [InlineData(2UL, 1UL, new ulong[] { }, 4UL, 2UL)]      // verified only up to 2: never commit 3@2, 4@2
    [InlineData(1UL, 1UL, new ulong[] { 1 }, 4UL, 2UL)]    // stale shorter append: same
    [InlineData(2UL, 1UL, new ulong[] { 3 }, 4UL, 3UL)]    // conflict replaced; 3 verified
    [InlineData(4UL, 2UL, new ulong[] { }, 4UL, 4UL)]
    [InlineData(4UL, 2UL, new ulong[] { }, 3UL, 3UL)]      // leader commit bounds it too
    [InlineData(4UL, 3UL, new ulong[] { }, 4UL, 1UL)]      // mismatch: rejected, nothing committed
    public void FollowerCommitsOnlyVerifiedEntries(ulong prevIndex, ulong prevTerm, ulong[] entryTerms, ulong leaderCommit, ulong wantCommit)
    {
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(2, 0, 1, T.Entries(1, 1, 1, 2, 2)));
        r.Step(new Message
        {
            Type = MessageType.Append, From = 1, To = 2, Term = 3, Index = prevIndex, LogTerm = prevTerm,
            Entries = T.Entries(prevIndex + 1, entryTerms), Commit = leaderCommit,
        });
        Assert.Equal(wantCommit, r.Log.Committed);
        var reply = Assert.Single(r.Ready().Messages);
        Assert.Equal(MessageType.AppendResponse, reply.Type);
        Assert.Equal(wantCommit == 1, reply.Reject);
    }

    [Fact]
    public void HeartbeatNeverCommitsBeyondVerifiedMatch()
    {
        // Node 3 holds a divergent suffix 3@2 4@2 5@2; the term-4 leader commits through 5@4 with node 2.
        Entry[] common = [T.E(1, 1), T.E(2, 1)];
        var net = Network.Create(T.Ids(1, 2, 3), T.Voters(1, 2, 3), recovered: id => id == 3
            ? T.Recovered(2, 0, 2, [.. common, .. T.Entries(3, 2, 2, 2)])
            : T.Recovered(3, 0, 2, [.. common, .. T.Entries(3, 3, 3)]));
        var noAppendsTo3 = net.Drop(m => IsAppend(m) && m.To == 3);
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        Assert.Equal(5UL, net[1].Log.Committed);
        net.Beat(1);
        net.Beat(1);
        Assert.Contains(net.Delivered, m => m.Type == MessageType.Heartbeat && m.To == 3);
        Assert.All(net.Delivered.Where(m => m.Type == MessageType.Heartbeat && m.To == 3), m => Assert.Equal(0UL, m.Commit));
        Assert.Equal(2UL, net[3].Log.Committed); // not 5: its 3..5 were never verified against the leader
        Assert.Equal(2, net.Applied[3].Count);

        net.StopDropping(noAppendsTo3);
        net.Beat(1);
        Assert.Equal(Network.LogOf(net[1]), Network.LogOf(net[3]));
        Assert.Equal(5UL, net[3].Log.Committed);
    }

    public static TheoryData<string, ulong[], ulong[]> DivergentLogs => new()
    {
        { "long divergent suffix of one term", [1, .. Enumerable.Repeat(3UL, 100)], [1, .. Enumerable.Repeat(2UL, 100)] },
        { "follower much longer", [1, .. Enumerable.Repeat(3UL, 10)], [1, .. Enumerable.Repeat(2UL, 100)] },
        { "follower much shorter", [1, .. Enumerable.Repeat(3UL, 100)], [1] },
        { "common prefix of 50", [1, .. Enumerable.Repeat(2UL, 50), .. Enumerable.Repeat(4UL, 50)], [1, .. Enumerable.Repeat(2UL, 50), .. Enumerable.Repeat(3UL, 50)] },
        { "many short terms", [1, .. Enumerable.Repeat(20UL, 100)], [1, .. Enumerable.Range(0, 40).Select(i => 2UL + (ulong)(i / 4))] },
    };

    [Theory]
    [MemberData(nameof(DivergentLogs))]
    public void ConflictHintsBacktrackInFewRoundTrips(string name, ulong[] leaderTerms, ulong[] followerTerms)
    {
        var leaderLog = T.Entries(1, leaderTerms);
        var followerLog = T.Entries(1, followerTerms);
        var net = Network.Create(T.Ids(1, 2, 3), T.Voters(1, 2, 3), recovered: id => id == 3
            ? T.Recovered(followerTerms[^1], 0, 1, followerLog)
            : T.Recovered(leaderTerms[^1], 0, 1, leaderLog));
        net.Campaign(1);
        Assert.Equal(Role.Leader, net[1].Role);
        var rejects = net.Delivered.Count(m => m.Type == MessageType.AppendResponse && m.From == 3 && m.Reject);
        Assert.True(rejects <= 2, $"{name}: {rejects} rejected appends; the leader should skip whole terms (paper §5.3)");
        Assert.Equal(Network.LogOf(net[1]), Network.LogOf(net[3]));
        Assert.Equal(net[1].Log.Committed, net[3].Log.Committed);
    }

    [Theory]
    [InlineData(1, 5)]
    [InlineData(4, 10)]
    [InlineData(8, 3)]
    [InlineData(256, 20)]
    public void PipelinedAppendsAreBoundedByInflightWindow(int window, int proposals)
    {
        var net = T.ClusterWithLeader(3, o => o with { MaxInflightMessages = window, MaxSizePerMessage = 1 });
        var leader = net[1];
        Assert.Equal(ProgressState.Replicate, leader.Progress[2].State);
        for (int i = 0; i < proposals; i++) net.Do(1, r => r.Propose([(byte)i]), deliver: false);
        // Sent without waiting for any acknowledgement, up to the window.
        var outstanding = Math.Min(window, proposals);
        Assert.Equal(outstanding, net.Queued.Count(m => IsAppend(m) && m.To == 2 && m.Entries.Count > 0));
        Assert.Equal(outstanding, leader.Progress[2].Inflights.Count);
        Assert.Equal(proposals >= window, leader.Progress[2].IsPaused);
        net.DeliverAll();
        Assert.Equal(leader.Log.LastIndex, leader.Log.Committed);
        Assert.Equal(leader.Log.LastIndex, net[2].Log.LastIndex);
        Assert.Equal(leader.Log.LastIndex, net[3].Log.Committed);
        Assert.Equal(0, leader.Progress[2].Inflights.Count);
    }

    [Fact]
    public void ProbingFollowerGetsOneAppendAtATime()
    {
        // Node 3's log is unknown to the new leader: it probes with a single message until the match point is found.
        var net = Network.Create(T.Ids(1, 2, 3), T.Voters(1, 2, 3), recovered: id => id == 3 ? RecoveredLog.Empty : T.Recovered(1, 0, 0, T.E(1, 1)));
        var hold3 = net.Drop(m => m.To == 3 && IsAppend(m));
        net.Campaign(1);
        Assert.Equal(ProgressState.Probe, net[1].Progress[3].State);
        var before = net.Sent.Count(m => m.To == 3 && IsAppend(m));
        for (int i = 0; i < 5; i++) net.Propose(1, $"p{i}");
        Assert.Equal(before, net.Sent.Count(m => m.To == 3 && IsAppend(m)));
        Assert.True(net[1].Progress[3].IsPaused);
        net.StopDropping(hold3);
        net.Beat(1);
        Assert.Equal(Network.LogOf(net[1]), Network.LogOf(net[3]));
    }

    [Fact]
    public void LostAppendsAreRecoveredByHeartbeats()
    {
        var net = T.ClusterWithLeader(3);
        var lose = net.Drop(m => m.To == 3 && IsAppend(m));
        for (int i = 0; i < 3; i++) net.Propose(1, $"v{i}");
        net.StopDropping(lose);
        // Stay below the CheckQuorum/recovery horizon only for a while; the pipeline must recover without new proposals.
        net.Tick(25);
        Assert.Equal(net[1].Log.LastIndex, net[3].Log.LastIndex);
        Assert.Equal(net[1].Log.Committed, net[3].Log.Committed);
    }

    [Fact]
    public void SingleVoterCommitsOnAppend()
    {
        var net = T.ClusterWithLeader(1);
        var idx = net.Propose(1, "solo");
        Assert.Equal(2UL, idx);
        Assert.Equal(2UL, net[1].Log.Committed);
        Assert.Equal("solo", System.Text.Encoding.UTF8.GetString(net.Applied[1][^1].Data));
    }

    [Fact]
    public void ProposalsOnFollowerAreDropped()
    {
        var net = T.ClusterWithLeader(3);
        Assert.Equal(0UL, net[2].Propose([1]));
        Assert.Equal(0UL, net[1].Propose(Array.Empty<byte[]>()));
        var first = net.Do(1, r => r.Propose([[1], [2], [3]]));
        Assert.Equal(2UL, first);
        Assert.Equal(4UL, net[3].Log.Committed);
    }

    [Fact]
    public void RestartedNodeRecoversLogAndReappliesCommittedEntries()
    {
        var net = T.ClusterWithLeader(3);
        net.Propose(1, "a");
        net.Propose(1, "b");
        var before = Network.LogOf(net[2]);
        var restarted = net.Restart(2);
        Assert.Equal(before, Network.LogOf(restarted));
        Assert.Equal(net[1].Term, restarted.Term);
        Assert.Equal(net[1].Log.Committed, restarted.Log.Committed);
        Assert.Equal(0UL, restarted.Log.Applied); // the state machine is rebuilt from the log
        var rd = restarted.GetReady();
        Assert.Equal(3, rd.CommittedEntries.Count);
        Assert.Empty(rd.Entries); // recovered entries are already stable
    }
}
