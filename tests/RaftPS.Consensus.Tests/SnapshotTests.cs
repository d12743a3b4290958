using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Compaction and InstallSnapshot (paper §7, Figure 13; thesis §5.1).</summary>
public class SnapshotTests
{
    private static Snapshot SnapshotOf(Raft r, ulong index, string data = "state") =>
        new(new SnapshotMetadata(index, r.Log.Term(index)!.Value, r.ConfStateAt(index)), System.Text.Encoding.UTF8.GetBytes(data));

    [Fact]
    public void LeaderSendsSnapshotToFollowerWhoseEntriesWereCompacted()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(3);
        // A configuration change before the snapshot: the follower must take the configuration from the snapshot.
        var withLearner = new ConfState(T.Ids(1, 2, 3), T.Ids(4), [], []);
        Assert.NotEqual(0UL, net.Do(1, r => r.ProposeConfChange(withLearner)));
        for (int i = 0; i < 10; i++) net.Propose(1, $"v{i}");
        var leader = net[1];
        var applied = leader.Log.Applied;
        Assert.Equal(leader.Log.LastIndex, applied);
        var snap = SnapshotOf(leader, applied);
        leader.Compact(snap, applied);
        Assert.Equal(applied, leader.Log.SnapshotIndex);
        Assert.Same(snap, leader.Snapshot);

        net.Rejoin(3);
        net.Beat(1);
        Assert.Contains(net.Delivered, m => m.Type == MessageType.InstallSnapshot && m.To == 3 && m.Snapshot == snap);
        var installed = Assert.Single(net.InstalledSnapshots[3]);
        Assert.Equal(applied, installed.Index);
        var follower = net[3];
        Assert.Equal(applied, follower.Log.SnapshotIndex);
        Assert.Equal(applied, follower.Log.Committed);
        Assert.True(follower.Config.IsLearner(4));
        Assert.Equal(withLearner.Learners, follower.ConfStateAt(applied).Learners);
        // Entries covered by the snapshot are installed, not applied one by one.
        Assert.DoesNotContain(net.Applied[3], e => e.Index > 1 && e.Index <= applied);
        Assert.Equal(ProgressState.Replicate, leader.Progress[3].State);
        Assert.Equal(applied, leader.Progress[3].Match);

        // Replication continues normally after the snapshot.
        net.Propose(1, "after");
        Assert.Equal(leader.Log.Committed, follower.Log.Committed);
        Assert.Equal(Network.LogOf(leader), Network.LogOf(follower));

        // And the follower restarts from its snapshot plus the entries after it, configuration included.
        var restarted = net.Restart(3);
        Assert.Equal(applied, restarted.Log.SnapshotIndex);
        Assert.Equal(leader.Log.LastIndex, restarted.Log.LastIndex);
        Assert.True(restarted.Config.IsLearner(4));
    }

    [Fact]
    public void NoSnapshotIsSentWhileTheNeededEntriesExist()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(3);
        for (int i = 0; i < 5; i++) net.Propose(1, $"v{i}");
        var leader = net[1];
        // Compaction that keeps the follower's next entries (a tail) lets it catch up with appends.
        leader.Compact(SnapshotOf(leader, leader.Log.Applied), 1);
        net.Rejoin(3);
        net.Beat(1);
        Assert.DoesNotContain(net.Delivered, m => m.Type == MessageType.InstallSnapshot);
        Assert.Empty(net.InstalledSnapshots[3]);
        Assert.Equal(Network.LogOf(leader), Network.LogOf(net[3]).Skip(1));
        Assert.Equal(leader.Log.Committed, net[3].Log.Committed);
    }

    // Follower log 1@1..5@1 with commit 2; a term-2 leader sends a snapshot ending at (index, term).
    [Theory]
    [InlineData(3UL, 1UL, false, 5UL, 3UL)]  // Fig. 13 step 6: we have its last entry; keep 4 and 5
    [InlineData(5UL, 1UL, false, 5UL, 5UL)]
    [InlineData(4UL, 2UL, true, 4UL, 4UL)]   // conflicting entry at its index: discard the log (step 7)
    [InlineData(9UL, 2UL, true, 9UL, 9UL)]   // beyond our log
    [InlineData(2UL, 1UL, false, 5UL, 2UL)]  // already committed: stale, ignored
    public void InstallSnapshot(ulong index, ulong term, bool restored, ulong wantLast, ulong wantCommit)
    {
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 2, T.Entries(1, 1, 1, 1, 1, 1)));
        r.Ready(); // apply what was committed before
        var snap = new Snapshot(new SnapshotMetadata(index, term, T.Voters(1, 2, 3, 4)), [7]);
        r.Step(new Message { Type = MessageType.InstallSnapshot, From = 1, To = 2, Term = 2, Snapshot = snap });
        Assert.Equal(wantLast, r.Log.LastIndex);
        Assert.Equal(wantCommit, r.Log.Committed);
        Assert.Equal(restored, r.Config.IsVoter(4)); // configuration travels with the snapshot (thesis §5.1)
        var rd = r.GetReady();
        Assert.Equal(restored ? snap : null, rd.Snapshot);
        if (restored)
        {
            Assert.True(rd.MustSync);
            Assert.Empty(rd.CommittedEntries); // the snapshot replaces them
        }
        else
        {
            Assert.Equal(wantCommit, rd.CommittedEntries.Count == 0 ? 2UL : rd.CommittedEntries[^1].Index);
        }
        var reply = Assert.Single(rd.Messages);
        Assert.Equal(MessageType.AppendResponse, reply.Type);
        Assert.False(reply.Reject);
        Assert.Equal(wantCommit, reply.Index);
        r.Advance(rd);
        Assert.Equal(wantCommit, r.Log.Applied);
        Assert.False(r.HasReady());
    }

    [Fact]
    public void KeptEntriesAfterSnapshotPointCanStillCommit()
    {
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 0, T.Entries(1, 1, 1, 1, 1, 1)));
        var snap = new Snapshot(new SnapshotMetadata(3, 1, T.Voters(1, 2, 3)), []);
        r.Step(new Message { Type = MessageType.InstallSnapshot, From = 1, To = 2, Term = 1, Snapshot = snap });
        r.Step(new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = 1, Commit = 5 });
        Assert.Equal(5UL, r.Log.Committed);
        Assert.Equal(T.Ids(1, 2, 3, 4, 5), r.GetReady().CommittedEntries.Select(e => e.Index).ToArray());
    }

    [Theory]
    [InlineData(5UL, 6UL)]  // beyond applied
    [InlineData(3UL, 4UL)]  // compact past the snapshot
    public void CompactRejectsBadArguments(ulong snapIndex, ulong compactTo)
    {
        var net = T.ClusterWithLeader(1);
        net.Propose(1, "a");
        net.Propose(1, "b");
        var r = net[1];
        Assert.Equal(3UL, r.Log.Applied);
        var snap = new Snapshot(new SnapshotMetadata(snapIndex, 1, T.Voters(1)), []);
        Assert.Throws<ArgumentException>(() => r.Compact(snap, compactTo));
    }

    [Fact]
    public void SnapshotStateIsRetriedAfterLoss()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(3);
        for (int i = 0; i < 3; i++) net.Propose(1, $"v{i}");
        var leader = net[1];
        leader.Compact(SnapshotOf(leader, leader.Log.Applied), leader.Log.Applied);
        net.Rejoin(3);
        var lose = net.Drop(m => m.Type == MessageType.InstallSnapshot);
        net.Beat(1);
        Assert.Equal(ProgressState.Snapshot, leader.Progress[3].State);
        net.StopDropping(lose);
        // Heartbeats keep flowing; a snapshot gets four election timeouts without progress, then the leader probes and
        // resends it.
        net.Tick(15);
        Assert.Empty(net.InstalledSnapshots[3]);
        net.Tick(40);
        Assert.Single(net.InstalledSnapshots[3]);
        Assert.Equal(leader.Log.Committed, net[3].Log.Committed);
    }
}
