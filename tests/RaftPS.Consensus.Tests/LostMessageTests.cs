using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Over UDP any one message can vanish; these protocol steps must be retried, not just sent once.</summary>
public class LostMessageTests
{
    [Fact]
    public void A_read_whose_heartbeat_round_was_lost_is_confirmed_by_the_next_heartbeat()
    {
        var net = T.ClusterWithLeader(3);
        var lose = net.Drop(m => m.Type == MessageType.Heartbeat && m.Context is { Length: > 0 });
        Assert.True(net.Do(1, r => r.ReadIndex("r1"u8.ToArray())));
        Assert.Empty(net.ReadStates[1]);
        net.StopDropping(lose);
        net.Beat(1); // a plain heartbeat round must carry the pending read's context
        var rs = Assert.Single(net.ReadStates[1]);
        Assert.Equal("r1"u8.ToArray(), rs.Context);
    }

    [Fact]
    public void A_lost_TimeoutNow_is_sent_again_on_the_next_heartbeat_reply()
    {
        var net = T.ClusterWithLeader(3);
        var lose = net.Drop(m => m.Type == MessageType.TimeoutNow);
        Assert.True(net.Do(1, r => r.TransferLeadership(2)));
        Assert.Equal(Role.Leader, net[1].Role);
        net.StopDropping(lose);
        net.Beat(1);
        Assert.Equal(Role.Leader, net[2].Role);
        Assert.Equal(Role.Follower, net[1].Role);
    }
}

public class TransferClockTests
{
    [Fact]
    public void Repeated_transfer_requests_do_not_keep_a_cut_off_leader_in_office()
    {
        var net = T.ClusterWithLeader(3);
        net.Isolate(1);
        for (int i = 0; i < 60 && net[1].Role == Role.Leader; i++)
        {
            // A transfer to each peer in turn (each one abandoned after an election timeout) must not reset CheckQuorum.
            if (i % 4 == 0) net.Do(1, r => r.TransferLeadership(i % 8 == 0 ? 2UL : 3UL));
            net.Tick(1);
        }
        Assert.NotEqual(Role.Leader, net[1].Role);
    }
}
