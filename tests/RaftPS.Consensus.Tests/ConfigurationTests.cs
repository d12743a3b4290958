using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Who is a voter, a learner (thesis §4.2.1) or a member at all, including a joint configuration (paper §6).</summary>
public class ConfigurationTests
{
    // C_old = {1,2,5}, C_new = {1,2,3}; 4 is a learner; 5 leaves the voters and stays on as a learner once the joint
    // configuration is left (learners-next).
    [Theory]
    [InlineData(1UL, true, false)]
    [InlineData(3UL, true, false)]   // incoming voter only
    [InlineData(5UL, true, true)]    // outgoing voter, learner next
    [InlineData(4UL, false, true)]
    [InlineData(9UL, false, false)]
    public void MembershipOfEachRole(ulong id, bool voter, bool learner)
    {
        var c = Configuration.FromConfState(new ConfState(T.Ids(1, 2, 3), T.Ids(4), T.Ids(1, 2, 5), T.Ids(5)));
        Assert.Equal(voter, c.IsVoter(id));
        Assert.Equal(learner, c.IsLearner(id));
        // Members are exactly the nodes the leader replicates to; everyone else's progress is dropped.
        Assert.Equal(voter || learner, c.IsMember(id));
        Assert.Equal(voter || learner, c.AllIds.Contains(id));
    }

    [Fact]
    public void VotersOnlyConfigurationHasNoLearners()
    {
        var c = new Configuration(new JointConfig(new MajorityConfig(T.Ids(1, 2, 3))));
        Assert.Empty(c.Learners);
        Assert.Empty(c.LearnersNext);
        Assert.True(c.IsMember(2));
        Assert.False(c.IsLearner(2));
        Assert.Equal(T.Ids(1, 2, 3), c.AllIds.ToArray());
    }

    public static TheoryData<string, ConfState> Invalid => new()
    {
        { "voter and learner at once", new ConfState(T.Ids(1, 2, 3), T.Ids(3), [], []) },
        { "learner-next that is not an outgoing voter", new ConfState(T.Ids(1, 2, 3), [], T.Ids(1, 2, 4), T.Ids(5)) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InconsistentRolesAreRejected(string name, ConfState cs)
    {
        var e = Assert.Throws<ArgumentException>(() => Configuration.FromConfState(cs));
        Assert.False(string.IsNullOrEmpty(e.Message), name);
    }
}
