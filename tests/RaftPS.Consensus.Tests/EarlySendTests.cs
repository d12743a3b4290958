using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Which messages a leader may send before its own fsync (thesis §10.2.1), and what they may promise.</summary>
public class EarlySendTests
{
    [Fact]
    public void A_lone_voter_never_announces_a_commit_it_has_not_made_durable()
    {
        // One voter plus a learner: the leader commits on append, before its own fsync.
        var leader = T.Node(1, new ConfState([1], [2], [], []));
        leader.Step(new Message { Type = MessageType.Hup, From = 1 });
        var durable = leader.Ready().HardState!.Value;
        Assert.Equal(Role.Leader, leader.Role);
        // The learner acknowledges the no-op, so the leader pipelines the next entry to it.
        leader.Step(new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = leader.Term, Index = leader.Log.LastIndex });
        leader.Ready();
        leader.Propose("x"u8.ToArray());
        var rd = leader.GetReady();
        var entry = Assert.Single(rd.Entries);
        Assert.True(leader.Log.Committed >= entry.Index);
        var (early, after) = rd.SplitForEarlySend(leader.Role, durable);
        var append = Assert.Single(early, m => m.Type == MessageType.Append && m.To == 2);
        Assert.True(append.Commit < entry.Index, $"early append announces commit {append.Commit} covering unsynced {entry.Index}");
        Assert.DoesNotContain(after, m => m.Type == MessageType.Append);
    }

    [Fact]
    public void Nothing_goes_early_when_term_or_vote_is_not_yet_durable_or_from_a_follower()
    {
        var net = Network.Create(3);
        var node = net[1];
        node.Step(new Message { Type = MessageType.Hup, From = 1 });
        var rd = node.GetReady(); // pre-candidate or candidate: its vote requests depend on the new term/vote
        var (early, after) = rd.SplitForEarlySend(node.Role, HardState.Empty);
        Assert.Empty(early);
        Assert.Equal(rd.Messages.Count, after.Count);

        // A leader whose Ready carries a new term (the single-voter case: elected within one Ready) sends nothing early.
        var lone = T.Node(1, T.Voters(1));
        lone.Step(new Message { Type = MessageType.Hup, From = 1 });
        Assert.Equal(Role.Leader, lone.Role);
        var first = lone.GetReady();
        Assert.NotNull(first.HardState);
        Assert.Empty(first.SplitForEarlySend(lone.Role, HardState.Empty).Early);
    }
}
