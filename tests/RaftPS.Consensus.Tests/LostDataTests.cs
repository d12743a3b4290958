using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

public class LostDataTests
{
    [Theory]
    [InlineData(3UL, 3UL, false)] // commit at our last index: fine
    [InlineData(2UL, 3UL, false)] // below: fine
    [InlineData(4UL, 3UL, true)]  // beyond: entries we acknowledged are gone
    public void A_heartbeat_commit_beyond_our_log_stops_the_node(ulong commit, ulong last, bool throws)
    {
        var follower = T.Node(2, T.Voters(1, 2, 3), T.Recovered(2, 1, 0, T.Entries(1, Enumerable.Repeat(2UL, (int)last).ToArray())));
        var heartbeat = new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Term = 2, Commit = commit };
        if (throws)
        {
            var ex = Assert.Throws<RaftInvariantException>(() => follower.Step(heartbeat));
            Assert.Contains("lost", ex.Message);
        }
        else
        {
            follower.Step(heartbeat);
            Assert.Equal(commit, follower.Log.Committed);
        }
    }
}
