using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>The leader's membership rules shared by the node and the simulation (thesis §4.2.1, paper §6).</summary>
public class MembershipPlannerTests
{
    private const ulong Last = 100;
    private const ulong Lag = 10;

    private static Progress Replicating(ulong match, bool active = true)
    {
        var pr = new Progress(match + 1, 8, false) { Match = match, RecentActive = active };
        pr.BecomeReplicate();
        return pr;
    }

    private static Dictionary<ulong, Progress> ProgressOf(params (ulong Id, ulong Match, bool Active)[] members) =>
        members.ToDictionary(m => m.Id, m => Replicating(m.Match, m.Active));

    [Theory]
    [InlineData(100UL, true)]
    [InlineData(90UL, true)]   // exactly the allowed lag
    [InlineData(89UL, false)]
    [InlineData(0UL, false)]
    public void Caught_up_means_within_the_lag_of_the_leaders_last_index(ulong match, bool expected) =>
        Assert.Equal(expected, MembershipPlanner.IsCaughtUp(Replicating(match), Last, Lag));

    [Fact]
    public void No_progress_is_never_caught_up() => Assert.False(MembershipPlanner.IsCaughtUp(null, Last, Lag));

    [Fact]
    public void A_follower_that_never_acknowledged_is_not_caught_up_even_on_a_short_log()
    {
        // A fresh progress probes with match 0: on a log shorter than the allowed lag, "0 + lag >= last" would pass.
        var fresh = new Progress(2, 8, true) { RecentActive = true };
        Assert.False(MembershipPlanner.IsCaughtUp(fresh, leaderLastIndex: 3, maxLag: 1000));
        var config = Configuration.FromConfState(new ConfState([1, 2, 3], [4], [], []));
        Assert.Null(MembershipPlanner.NextStep(config, [4], new Dictionary<ulong, Progress> { [4] = fresh }, 3, 1000));
    }

    [Fact]
    public void One_caught_up_learner_is_promoted_by_a_single_server_change()
    {
        var config = Configuration.FromConfState(new ConfState([1, 2, 3], [4], [], [], false, [9]));
        var next = MembershipPlanner.NextStep(config, [4], ProgressOf((1, 100, true), (2, 100, true), (3, 100, true), (4, 95, true)), Last, Lag);
        Assert.NotNull(next);
        Assert.Equal([1UL, 2, 3, 4], next!.Voters);
        Assert.Empty(next.Learners);
        Assert.Empty(next.VotersOutgoing);
        Assert.False(next.AutoLeave); // a single-server change is not joint: there is nothing to leave
        Assert.Equal([9], next.Context!); // the node's context is carried over
    }

    [Fact]
    public void Several_caught_up_learners_are_promoted_together_through_a_joint_configuration_that_leaves_itself()
    {
        var config = Configuration.FromConfState(new ConfState([1, 2, 3], [4, 5], [], []));
        var next = MembershipPlanner.NextStep(config, [4, 5], ProgressOf((4, 100, true), (5, 99, true)), Last, Lag)!;
        Assert.Equal([1UL, 2, 3, 4, 5], next.Voters);
        Assert.Equal([1UL, 2, 3], next.VotersOutgoing);
        Assert.True(next.AutoLeave);
        // The core accepts it as a joint change, and the next step leaves the joint configuration.
        Raft.ValidateConfChange(config, next);
        var leave = MembershipPlanner.NextStep(Configuration.FromConfState(next), [], ProgressOf(), Last, Lag)!;
        Assert.Equal([1UL, 2, 3, 4, 5], leave.Voters);
        Assert.Empty(leave.VotersOutgoing);
        Assert.False(leave.AutoLeave);
    }

    [Theory]
    [InlineData(80UL, true)]  // behind
    [InlineData(100UL, false)] // caught up but unreachable
    public void Learners_behind_or_unreachable_wait(ulong match, bool active)
    {
        var config = Configuration.FromConfState(new ConfState([1, 2, 3], [4], [], []));
        Assert.Null(MembershipPlanner.NextStep(config, [4], ProgressOf((4, match, active)), Last, Lag));
    }

    [Fact]
    public void Learners_added_as_learners_are_never_promoted_automatically()
    {
        var config = Configuration.FromConfState(new ConfState([1, 2, 3], [4], [], []));
        Assert.Null(MembershipPlanner.NextStep(config, [], ProgressOf((4, 100, true)), Last, Lag));
    }

    [Fact]
    public void A_joint_configuration_without_auto_leave_is_left_to_the_operator()
    {
        var config = Configuration.FromConfState(new ConfState([1, 2, 4], [], [1, 2, 3], [], AutoLeave: false));
        Assert.Null(MembershipPlanner.NextStep(config, [], ProgressOf(), Last, Lag));
    }

    [Fact]
    public void Leaving_joint_turns_learners_next_into_learners()
    {
        var config = Configuration.FromConfState(new ConfState([1, 2], [], [1, 2, 3], [3], AutoLeave: true));
        var leave = MembershipPlanner.LeaveJoint(config);
        Assert.Equal([1UL, 2], leave.Voters);
        Assert.Equal([3UL], leave.Learners);
        Assert.Empty(leave.LearnersNext);
    }

    // Leader is 1. Voters of the target; which are reachable and caught up.
    [Theory]
    [InlineData(new ulong[] { 1, 2, 3 }, new ulong[] { 2 }, true)]        // 2 of 3
    [InlineData(new ulong[] { 1, 2, 3 }, new ulong[] { }, false)]         // only the leader
    [InlineData(new ulong[] { 1, 2 }, new ulong[] { }, false)]            // removing 3 with 2 down: 1 of 2
    [InlineData(new ulong[] { 2, 3, 4 }, new ulong[] { 2, 3 }, true)]     // leader leaving: 2 of 3 healthy
    [InlineData(new ulong[] { 2, 3, 4 }, new ulong[] { 2 }, false)]
    [InlineData(new ulong[] { 1, 2, 3, 4 }, new ulong[] { 2 }, false)]    // adding a voter raises the quorum to 3
    [InlineData(new ulong[] { 1, 2, 3, 4 }, new ulong[] { 2, 4 }, true)]
    public void Keeps_quorum_counts_only_reachable_caught_up_voters(ulong[] voters, ulong[] healthy, bool expected)
    {
        var progress = new Dictionary<ulong, Progress>();
        foreach (var id in new ulong[] { 2, 3, 4 }) progress[id] = Replicating(healthy.Contains(id) ? Last : 0);
        Assert.Equal(expected, MembershipPlanner.KeepsQuorum(new ConfState(voters, [], [], []), 1, progress, Last, Lag, id => healthy.Contains(id)));
    }

    [Fact]
    public void Caught_up_but_silent_voters_do_not_count()
    {
        var progress = ProgressOf((2, Last, false), (3, Last, false));
        Assert.False(MembershipPlanner.KeepsQuorum(ConfState.Of(1, 2, 3), 1, progress, Last, Lag, _ => false));
    }

    [Fact]
    public void Configuration_context_round_trips_and_old_entries_still_decode()
    {
        var cs = new ConfState([1, 2], [3], [], [], false, [1, 2, 3, 4]);
        var back = ConfStateCodec.Decode(ConfStateCodec.Encode(cs));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, back.Context!);
        Assert.Equal(cs.Voters, back.Voters);
        Assert.Null(ConfStateCodec.Decode(ConfStateCodec.Encode(ConfState.Of(1))).Context);
        // Version 1 (no context): version byte, autoleave, four empty-or-not lists.
        byte[] v1 = [1, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var old = ConfStateCodec.Decode(v1);
        Assert.Equal([7UL], old.Voters);
        Assert.Null(old.Context);
        Assert.Throws<ConfStateFormatException>(() => ConfStateCodec.Decode(ConfStateCodec.Encode(cs)[..^1]));
    }
}
