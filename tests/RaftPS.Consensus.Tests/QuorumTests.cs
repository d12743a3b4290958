using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Majority and joint quorums (paper §5.2, §5.3, §6).</summary>
public class QuorumTests
{
    // acked[i] is the durable index of voter i+1; the committed index is the highest index a majority holds.
    [Theory]
    [InlineData(new ulong[] { 5 }, 5UL)]
    [InlineData(new ulong[] { 5, 0 }, 0UL)]             // 2 voters: quorum 2
    [InlineData(new ulong[] { 5, 3 }, 3UL)]
    [InlineData(new ulong[] { 5, 3, 0 }, 3UL)]          // 3 voters: quorum 2
    [InlineData(new ulong[] { 5, 0, 0 }, 0UL)]
    [InlineData(new ulong[] { 9, 7, 5, 3 }, 5UL)]       // 4 voters: quorum 3, never 2
    [InlineData(new ulong[] { 9, 7, 0, 0 }, 0UL)]
    [InlineData(new ulong[] { 9, 7, 5, 0, 0 }, 5UL)]    // 5 voters: quorum 3
    [InlineData(new ulong[] { 9, 7, 0, 0, 0 }, 0UL)]    // 2 of 5 is not a quorum
    [InlineData(new ulong[] { 1, 2, 3, 4, 5, 6 }, 3UL)] // 6 voters: quorum 4
    [InlineData(new ulong[] { 6, 6, 6, 0, 0, 0 }, 0UL)]
    [InlineData(new ulong[] { 7, 6, 5, 4, 3, 2, 1 }, 4UL)] // 7 voters: quorum 4
    [InlineData(new ulong[] { 7, 7, 7, 0, 0, 0, 0 }, 0UL)]
    public void MajorityCommittedIndex(ulong[] acked, ulong expected)
    {
        var ids = Enumerable.Range(1, acked.Length).Select(i => (ulong)i).ToArray();
        var cfg = new MajorityConfig(ids);
        Assert.Equal(expected, cfg.CommittedIndex(id => acked[id - 1]));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    [InlineData(5, 3)]
    [InlineData(6, 4)]
    [InlineData(7, 4)]
    public void QuorumSize(int voters, int quorum) =>
        Assert.Equal(quorum, new MajorityConfig(Enumerable.Range(1, voters).Select(i => (ulong)i)).QuorumSize);

    [Fact]
    public void UnknownVotersCountAsZero()
    {
        var cfg = new MajorityConfig(T.Ids(1, 2, 3));
        Assert.Equal(0UL, cfg.CommittedIndex(id => id == 1 ? 10 : null));
        Assert.Equal(4UL, cfg.CommittedIndex(id => id == 3 ? null : 4));
    }

    // votes: 'y' granted, 'n' rejected, '_' not yet answered, for voters 1..n.
    [Theory]
    [InlineData("y", VoteResult.Won)]
    [InlineData("n", VoteResult.Lost)]
    [InlineData("_", VoteResult.Pending)]
    [InlineData("y_", VoteResult.Pending)]
    [InlineData("yn", VoteResult.Lost)]
    [InlineData("yy", VoteResult.Won)]
    [InlineData("y__", VoteResult.Pending)]
    [InlineData("yy_", VoteResult.Won)]
    [InlineData("ynn", VoteResult.Lost)]
    [InlineData("yn_", VoteResult.Pending)]
    [InlineData("yy__", VoteResult.Pending)]  // 2 of 4 is not a quorum
    [InlineData("yyy_", VoteResult.Won)]
    [InlineData("yynn", VoteResult.Lost)]
    [InlineData("yyn_", VoteResult.Pending)]
    [InlineData("yy___", VoteResult.Pending)] // 2 of 5 is not a quorum
    [InlineData("yyy__", VoteResult.Won)]
    [InlineData("yynn_", VoteResult.Pending)]
    [InlineData("yynnn", VoteResult.Lost)]
    [InlineData("yyy___", VoteResult.Pending)]
    [InlineData("yyyy__", VoteResult.Won)]
    [InlineData("yynnn_", VoteResult.Lost)]
    [InlineData("yyy____", VoteResult.Pending)]
    [InlineData("yyyy___", VoteResult.Won)]
    [InlineData("yyynnn_", VoteResult.Pending)]
    [InlineData("yyynnnn", VoteResult.Lost)]
    public void MajorityVote(string votes, VoteResult expected)
    {
        var cfg = new MajorityConfig(Enumerable.Range(1, votes.Length).Select(i => (ulong)i));
        Assert.Equal(expected, cfg.Vote(id => Parse(votes[(int)id - 1])));
    }

    private static bool? Parse(char c) => c switch { 'y' => true, 'n' => false, _ => null };

    [Fact]
    public void IdZeroIsRejected() => Assert.Throws<ArgumentException>(() => new MajorityConfig(T.Ids(0, 1)));

    // Joint: incoming (1,2,3), outgoing (3,4,5); acked indexes per voter 1..5.
    [Theory]
    [InlineData(new ulong[] { 9, 9, 0, 0, 0 }, 0UL)] // incoming majority only
    [InlineData(new ulong[] { 0, 0, 0, 9, 9 }, 0UL)] // outgoing majority only
    [InlineData(new ulong[] { 9, 0, 9, 0, 0 }, 0UL)] // (1,3): incoming yes; outgoing has only 3
    [InlineData(new ulong[] { 9, 0, 9, 9, 0 }, 9UL)] // (1,3) and (3,4)
    [InlineData(new ulong[] { 7, 8, 0, 5, 6 }, 5UL)] // incoming 7, outgoing 5
    [InlineData(new ulong[] { 2, 3, 4, 9, 9 }, 3UL)] // incoming 3, outgoing 9
    public void JointCommittedIndexNeedsBothHalves(ulong[] acked, ulong expected)
    {
        var cfg = new JointConfig(new MajorityConfig(T.Ids(1, 2, 3)), new MajorityConfig(T.Ids(3, 4, 5)));
        Assert.True(cfg.IsJoint);
        Assert.Equal(expected, cfg.CommittedIndex(id => acked[id - 1]));
    }

    [Theory]
    [InlineData("yy___", VoteResult.Pending)] // incoming won, outgoing pending
    [InlineData("yyy__", VoteResult.Pending)] // 3 counts in both: outgoing has 1 of 3
    [InlineData("yyyy_", VoteResult.Won)]
    [InlineData("__yyy", VoteResult.Pending)]
    [InlineData("yy_nn", VoteResult.Lost)]   // outgoing lost
    [InlineData("nn_yy", VoteResult.Lost)]   // incoming lost
    [InlineData("ynyy_", VoteResult.Won)]
    [InlineData("yynnn", VoteResult.Lost)]
    public void JointVoteNeedsBothHalves(string votes, VoteResult expected)
    {
        var cfg = new JointConfig(new MajorityConfig(T.Ids(1, 2, 3)), new MajorityConfig(T.Ids(3, 4, 5)));
        Assert.Equal(expected, cfg.Vote(id => Parse(votes[(int)id - 1])));
    }

    [Theory]
    [InlineData(new ulong[] { 4, 6, 0 }, 4UL)]
    [InlineData(new ulong[] { 4, 0, 0 }, 0UL)]
    public void JointWithEmptyOutgoingIsTheIncomingHalf(ulong[] acked, ulong expected)
    {
        var cfg = new JointConfig(new MajorityConfig(T.Ids(1, 2, 3)));
        Assert.False(cfg.IsJoint);
        Assert.Equal(expected, cfg.CommittedIndex(id => acked[id - 1]));
        Assert.Equal(VoteResult.Won, cfg.Vote(id => id <= 2 ? true : null));
        Assert.Equal(VoteResult.Pending, cfg.Vote(id => id == 1 ? true : null));
        Assert.Equal(VoteResult.Lost, cfg.Vote(id => id == 1 ? true : false));
    }

    [Fact]
    public void FullyEmptyJointCommitsNothing() =>
        Assert.Equal(0UL, new JointConfig(MajorityConfig.Empty).CommittedIndex(_ => 5));

    [Fact]
    public void ConfigurationRejectsVoterThatIsAlsoLearner() =>
        Assert.Throws<ArgumentException>(() => Configuration.FromConfState(new ConfState(T.Ids(1, 2), T.Ids(2), [], [])));

    [Fact]
    public void ConfigurationRoundTripsConfState()
    {
        var cs = new ConfState(T.Ids(1, 2, 4), T.Ids(6), T.Ids(1, 2, 3), T.Ids(3), AutoLeave: true);
        var cfg = Configuration.FromConfState(cs);
        Assert.True(cfg.IsVoter(3));
        Assert.True(cfg.IsLearner(3));
        Assert.True(cfg.IsLearner(6));
        Assert.False(cfg.IsVoter(6));
        Assert.Equal(T.Ids(1, 2, 3, 4, 6), cfg.AllIds.ToArray());
        var back = cfg.ToConfState();
        Assert.Equal(cs.Voters, back.Voters);
        Assert.Equal(cs.Learners, back.Learners);
        Assert.Equal(cs.VotersOutgoing, back.VotersOutgoing);
        Assert.Equal(cs.LearnersNext, back.LearnersNext);
        Assert.True(back.AutoLeave);
    }
}
