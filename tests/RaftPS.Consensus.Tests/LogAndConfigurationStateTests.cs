using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>
/// The log and configuration a node rebuilds and keeps: recovery from a snapshot plus entries (paper §7, thesis §5.1),
/// compaction only of what a snapshot covers, the configuration in force at an index (for snapshot metadata), tracking
/// configuration entries across duplicated appends (thesis §4.1), and rejecting invalid configuration changes.
/// </summary>
public class LogAndConfigurationStateTests
{
    [Fact]
    public void RecoveryIgnoresEntriesCoveredByTheSnapshot()
    {
        // Storage holds a snapshot at 5 (term 2, voters 1,2,3) and, left over from before it was installed, a stale
        // term-1 configuration entry at index 5 (Fig. 13 step 7 discards that log, but a crash may leave it behind).
        var snap = new Snapshot(new SnapshotMetadata(5, 2, T.Voters(1, 2, 3)), [42]);
        var rec = new RecoveredLog(new HardState(3, 0, 5), snap, [T.Conf(5, 1, T.Voters(1, 2)), T.E(6, 3)]);
        var r = T.Node(1, T.Voters(9), rec); // bootstrap configuration is ignored when there is a snapshot

        Assert.Equal((5UL, 6UL, 5UL), (r.Log.SnapshotIndex, r.Log.LastIndex, r.Log.Committed));
        Assert.Equal(2UL, r.Log.Term(5)); // the snapshot's term, not the stale entry's (and not 0)
        Assert.Equal(3UL, r.Log.LastTerm);
        Assert.True(r.Config.IsVoter(3));
        Assert.Equal(T.Ids(1, 2, 3), r.ConfStateAt(6).Voters.ToArray());
        Assert.Same(snap, r.Snapshot);
    }

    [Fact]
    public void RecoveryWithSnapshotOnlyKnowsTheSnapshotTerm()
    {
        var snap = new Snapshot(new SnapshotMetadata(5, 2, T.Voters(1, 2, 3)), [42]);
        var r = T.Node(1, T.Voters(1, 2, 3), new RecoveredLog(new HardState(2, 0, 5), snap, []));
        Assert.Equal((5UL, 2UL), (r.Log.LastIndex, r.Log.LastTerm));
        // A candidate whose log ends 5@1 is behind us; one ending 5@2 is not.
        r.Step(new Message { Type = MessageType.Vote, From = 2, To = 1, Term = 3, Index = 5, LogTerm = 1 });
        Assert.True(Assert.Single(r.Ready().Messages).Reject);
        r.Step(new Message { Type = MessageType.Vote, From = 3, To = 1, Term = 4, Index = 5, LogTerm = 2 });
        Assert.False(Assert.Single(r.Ready().Messages).Reject);
    }

    [Theory]
    [InlineData(5UL, 5UL, false)] // the state machine has not applied 5 yet: no snapshot can contain it
    [InlineData(3UL, 4UL, false)] // cannot drop entries the snapshot does not cover
    [InlineData(4UL, 4UL, true)]
    [InlineData(4UL, 2UL, true)]  // keep a tail for slightly lagging followers
    public void CompactDropsOnlyWhatAnAppliedSnapshotCovers(ulong snapIndex, ulong compactTo, bool allowed)
    {
        var net = Network.Create(1);
        net.Campaign(1);
        net.Propose(1, "a");
        net.Propose(1, "b");
        net.Propose(1, "c");
        var r = net[1];
        Assert.Equal(4UL, r.Log.Applied);
        var snap = new Snapshot(new SnapshotMetadata(snapIndex, 1, r.ConfStateAt(snapIndex)), []);
        if (allowed)
        {
            r.Compact(snap, compactTo);
            Assert.Equal(compactTo + 1, r.Log.FirstIndex);
            Assert.Same(snap, r.Snapshot);
        }
        else
        {
            Assert.Throws<ArgumentException>(() => r.Compact(snap, compactTo));
            Assert.Equal(1UL, r.Log.FirstIndex); // changes nothing
            Assert.Null(r.Snapshot);
        }
        Assert.Equal(4UL, r.Log.LastIndex);
    }

    [Fact]
    public void ConfStateAtIsTheConfigurationInForceAtThatIndex()
    {
        var net = T.ClusterWithLeader(3);
        net.Propose(1, "a");
        var index = net.Do(1, r => r.ProposeConfChange(T.Voters(1, 2)));
        net.Propose(1, "b");
        foreach (var id in T.Ids(1, 2))
        {
            // The caller writes this into snapshot metadata (thesis §5.1): a snapshot at index-1 predates the change.
            Assert.Equal(T.Ids(1, 2, 3), net[id].ConfStateAt(index - 1).Voters.ToArray());
            Assert.Equal(T.Ids(1, 2), net[id].ConfStateAt(index).Voters.ToArray());
            Assert.Equal(T.Ids(1, 2), net[id].ConfStateAt(index + 1).Voters.ToArray());
        }
    }

    [Fact]
    public void DuplicatedAppendOfConfigurationEntriesKeepsTheLatestConfiguration()
    {
        var r = T.Node(3, T.Voters(1, 2, 3));
        var withLearner = new ConfState(T.Ids(1, 2, 3), T.Ids(4), [], []);
        var promoted = T.Voters(1, 2, 3, 4);
        var append = new Message { Type = MessageType.Append, From = 1, To = 3, Term = 1, Entries = [T.Conf(1, 1, withLearner), T.Conf(2, 1, promoted)] };
        r.Step(append);
        r.Ready();
        Assert.True(r.Config.IsVoter(4));
        r.Step(append); // the network delivers the datagram twice
        Assert.True(r.Config.IsVoter(4));
        Assert.Equal(T.Ids(4), r.ConfStateAt(1).Learners.ToArray());
        Assert.Equal(T.Ids(1, 2, 3, 4), r.ConfStateAt(2).Voters.ToArray());
    }

    public static TheoryData<string, ConfState> NoVoters => new()
    {
        { "empty", ConfState.Empty },
        { "only a learner", new ConfState([], T.Ids(2), [], []) },
    };

    [Theory]
    [MemberData(nameof(NoVoters))]
    public void ConfigurationWithoutVotersIsRejectedAndNothingIsAppended(string name, ConfState target)
    {
        // From a single voter, dropping it is a one-voter change, yet it would leave nobody to elect a leader.
        var net = Network.Create(1);
        net.Campaign(1);
        var r = net[1];
        var last = r.Log.LastIndex;
        Assert.Throws<ArgumentException>(() => r.ProposeConfChange(target));
        Assert.Equal(last, r.Log.LastIndex);
        Assert.False(r.ConfChangePending, name);
        Assert.True(r.Config.IsVoter(1));
    }
}
