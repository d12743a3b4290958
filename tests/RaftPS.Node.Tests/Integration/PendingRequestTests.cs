using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Integration;

public class PendingRequestTests
{
    [Fact]
    public async Task Reads_beyond_the_pending_limit_are_refused_and_waiting_reads_are_answered_when_the_leader_steps_down()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { MaxPendingRequests = 1, ElectionTicks = 200 });
        var leader = await cluster.WaitForLeaderAsync();
        var others = cluster.Servers.Values.Where(s => s != leader).Select(s => s!.Status.Id).ToArray();
        using (var warm = new RawClient(cluster.Cluster))
            Assert.Equal(ReplyStatus.Ok, warm.Send(leader.EndPoint, new ClientRequest { ClientId = warm.ClientId, Sequence = 1, Op = ClientOp.Put, Key = "k", Value = [1] }, TimeSpan.FromSeconds(5))!.Status);

        // Cut the leader off: a linearizable read can no longer be confirmed, so it waits.
        leader.Faults = new FaultSettings { PartitionedFrom = others.Select(id => cluster.Cluster.Find(id)!.NodeId).ToHashSet() };
        using var first = new RawClient(cluster.Cluster);
        var waiting = Task.Run(() => first.Send(leader.EndPoint, new ClientRequest { Op = ClientOp.Get, Key = "k" }, TimeSpan.FromSeconds(15)));
        // Until the leader holds it (a fixed pause was too short on a loaded machine): bounded.
        for (int i = 0; i < 500 && leader.PendingReads == 0; i++) await Task.Delay(10);
        Assert.Equal(1, leader.PendingReads);

        using var second = new RawClient(cluster.Cluster);
        var refused = second.Send(leader.EndPoint, new ClientRequest { Op = ClientOp.Get, Key = "k" }, TimeSpan.FromSeconds(5));
        Assert.NotNull(refused);
        // The leader only steps down a whole election timeout (1-2 s here) after the cut, so this is the limit speaking.
        Assert.Equal(ReplyStatus.Unavailable, refused!.Status);

        // CheckQuorum makes the isolated leader step down without any log change; the waiting read must still be answered.
        var answer = await waiting;
        Assert.NotNull(answer);
        Assert.Equal(ReplyStatus.NotLeader, answer!.Status);
        leader.Faults = FaultSettings.None;
    }
}
