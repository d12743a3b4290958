using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>The caller contract: what a Ready asks for, when it must be synced, options and recovery validation.</summary>
public class ReadyTests
{
    [Fact]
    public void FreshNodeHasNothingToDo()
    {
        var r = T.Node(1, T.Voters(1, 2, 3));
        Assert.False(r.HasReady());
        Assert.True(r.GetReady().IsEmpty);
    }

    [Fact]
    public void AppendedEntriesMustBeSyncedBeforeTheAcknowledgement()
    {
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 0, T.E(1, 1)));
        r.Step(new Message { Type = MessageType.Append, From = 1, To = 2, Term = 1, Index = 1, LogTerm = 1, Entries = T.Entries(2, 1, 1) });
        var rd = r.GetReady();
        Assert.Equal(T.Ids(2, 3), rd.Entries.Select(e => e.Index).ToArray());
        Assert.True(rd.MustSync);
        Assert.Equal(3UL, Assert.Single(rd.Messages).Index); // the ack the caller sends after persisting
        r.Advance(rd);
        Assert.False(r.HasReady());
        // Entries are handed out for persistence once only.
        r.Step(new Message { Type = MessageType.Append, From = 1, To = 2, Term = 1, Index = 1, LogTerm = 1, Entries = T.Entries(2, 1, 1) });
        Assert.Empty(r.Ready().Entries);
    }

    [Fact]
    public void CommitOnlyChangeNeedNotBeSynced()
    {
        var r = T.Node(2, T.Voters(1, 2, 3), T.Recovered(1, 0, 0, T.E(1, 1), T.E(2, 1)));
        r.Step(new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = 1, Commit = 2 });
        var rd = r.GetReady();
        Assert.Equal(new HardState(1, 0, 2), rd.HardState);
        Assert.False(rd.MustSync);
        Assert.Equal(T.Ids(1, 2), rd.CommittedEntries.Select(e => e.Index).ToArray());
        r.Advance(rd);
        Assert.Equal(2UL, r.Log.Applied);
    }

    [Theory]
    [InlineData(1L, 1)]      // at least one entry per Ready
    [InlineData(60L, 1)]     // each entry counts 8 data bytes + 24 = 32
    [InlineData(100L, 3)]
    [InlineData(long.MaxValue, 10)]
    public void CommittedEntriesArePagedByByteBudget(long budget, int perReady)
    {
        var entries = Enumerable.Range(1, 10).Select(i => new Entry(1, (ulong)i, EntryType.Normal, new byte[8])).ToArray();
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(1, 0, 10, entries), o => o with { MaxCommittedSizePerReady = budget });
        var applied = new List<ulong>();
        for (int i = 0; i < 20 && r.HasReady(); i++)
        {
            var rd = r.Ready();
            Assert.InRange(rd.CommittedEntries.Count, 1, perReady);
            applied.AddRange(rd.CommittedEntries.Select(e => e.Index));
        }
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), applied); // in order, each exactly once
    }

    public static TheoryData<string, Func<RaftOptions, RaftOptions>> BadOptions => new()
    {
        { "id 0", o => o with { Id = 0 } },
        { "heartbeat 0", o => o with { HeartbeatTicks = 0 } },
        { "election not above heartbeat", o => o with { ElectionTicks = 3, HeartbeatTicks = 3 } },
        { "no inflight window", o => o with { MaxInflightMessages = 0 } },
        { "no message budget", o => o with { MaxSizePerMessage = 0 } },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void InvalidOptionsAreRejected(string name, Func<RaftOptions, RaftOptions> configure)
    {
        var ex = Assert.Throws<ArgumentException>(() => T.Node(1, T.Voters(1, 2, 3), configure: configure));
        Assert.False(string.IsNullOrEmpty(ex.Message), name);
    }

    [Fact]
    public void StoredCommitBeyondRecoveredLogIsRefused() =>
        Assert.Throws<RaftInvariantException>(() => T.Node(1, T.Voters(1, 2, 3), T.Recovered(2, 0, 5, T.E(1, 1))));

    [Fact]
    public void RecoveredVoteAndTermAreKept()
    {
        var r = T.Node(1, T.Voters(1, 2, 3), T.Recovered(7, 3, 1, T.E(1, 2)));
        Assert.Equal(7UL, r.Term);
        Assert.Equal(3UL, r.Vote);
        Assert.Equal(Role.Follower, r.Role);
        Assert.Equal(new HardState(7, 3, 1), r.HardState);
        Assert.Null(r.GetReady().HardState); // nothing new to persist
    }

    [Theory]
    [InlineData("nothing", true)]
    [InlineData("hard state", false)]
    [InlineData("entries", false)]
    [InlineData("snapshot", false)]
    [InlineData("committed entries", false)]
    [InlineData("messages", false)]
    [InlineData("read states", false)]
    public void ReadyIsEmptyOnlyWhenThereIsNothingToDo(string part, bool empty)
    {
        var rd = part switch
        {
            "nothing" => new Ready(),
            "hard state" => new Ready { HardState = new HardState(1, 0, 0) },
            "entries" => new Ready { Entries = [T.E(1, 1)] },
            "snapshot" => new Ready { Snapshot = new Snapshot(new SnapshotMetadata(1, 1, T.Voters(1)), []) },
            "committed entries" => new Ready { CommittedEntries = [T.E(1, 1)] },
            "messages" => new Ready { Messages = [new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = 1 }] },
            _ => new Ready { ReadStates = [new ReadState(1, [1])] },
        };
        Assert.Equal(empty, rd.IsEmpty);
    }

    [Theory]
    [InlineData(0, 3UL, 3UL)] // nothing written by this Ready: the commit index goes out as is
    [InlineData(2, 3UL, 3UL)] // entries 5..6 are being written; commit 3 covers none of them
    [InlineData(2, 5UL, 4UL)] // commit 5 would cover an entry not yet durable on the leader: held back to 4
    [InlineData(2, 6UL, 4UL)]
    public void EarlySentMessagesNeverAnnounceACommitOverUnwrittenEntries(int entries, ulong commit, ulong want)
    {
        // Thesis §10.2.1: the leader may send before its own fsync, but must not count itself for entries it has not written.
        var rd = new Ready
        {
            Entries = T.Entries(5, Enumerable.Repeat(1UL, entries).ToArray()),
            Messages = [new Message { Type = MessageType.Append, From = 1, To = 2, Term = 1, Commit = commit }],
        };
        var (early, after) = rd.SplitForEarlySend(Role.Leader, new HardState(1, 1, 0));
        Assert.Empty(after);
        Assert.Equal(want, Assert.Single(early).Commit);
    }

    [Fact]
    public void LeaderWriteIsHandedOutEvenWhenNoFollowerCanBeSentTo()
    {
        // Both followers are being probed, so the proposal goes to nobody yet; the leader's own copy must still be
        // persisted now: it counts toward the quorum once durable (paper §5.3).
        var r = T.StandaloneLeader();
        var index = r.Propose(T.Bytes("x"));
        Assert.True(r.HasReady());
        var rd = r.GetReady();
        Assert.Empty(rd.Messages);
        Assert.Equal([index], rd.Entries.Select(e => e.Index).ToArray());
        Assert.True(rd.MustSync);
    }

    [Fact]
    public void OnlyReplicationMessagesMaySkipTheFsync()
    {
        // Thesis §10.2.1: appends, heartbeats, snapshots and TimeoutNow may leave before the leader's fsync; vote answers
        // (which would promise something about our durable state) wait for it.
        var types = new[]
        {
            MessageType.Append, MessageType.PreVoteResponse, MessageType.Heartbeat, MessageType.VoteResponse,
            MessageType.InstallSnapshot, MessageType.TimeoutNow,
        };
        var rd = new Ready { Messages = types.Select((t, i) => new Message { Type = t, From = 1, To = (ulong)(i + 2), Term = 1 }).ToArray() };
        var (early, after) = rd.SplitForEarlySend(Role.Leader, HardState.Empty);
        Assert.Equal([MessageType.Append, MessageType.Heartbeat, MessageType.InstallSnapshot, MessageType.TimeoutNow], early.Select(m => m.Type).ToArray());
        Assert.Equal([MessageType.PreVoteResponse, MessageType.VoteResponse], after.Select(m => m.Type).ToArray());
    }
}
