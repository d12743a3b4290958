using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Integration;

public class DrillOpsTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Leadership_moves_to_the_named_member()
    {
        await using var cluster = InProcessCluster.Start(3);
        var leader = await cluster.WaitForLeaderAsync();
        var target = cluster.Servers.Values.First(s => s != leader)!;
        using var client = new RawClient(cluster.Cluster);
        var reply = client.Send(leader.EndPoint, new ClientRequest { Op = ClientOp.TransferLeadership, Key = target.NodeId }, Wait);
        Assert.Equal(ReplyStatus.Ok, reply!.Status);
        var next = await cluster.WaitForLeaderAsync();
        for (int i = 0; i < 100 && next != target; i++) { await Task.Delay(50); next = await cluster.WaitForLeaderAsync(); }
        Assert.Same(target, next);
        var bad = client.Send(next.EndPoint, new ClientRequest { Op = ClientOp.TransferLeadership, Key = "nope" }, Wait);
        Assert.Equal(ReplyStatus.BadRequest, bad!.Status);
    }

    [Fact]
    public async Task Fault_injection_is_refused_unless_allowed()
    {
        await using var cluster = InProcessCluster.Start(1);
        var node = await cluster.WaitForLeaderAsync();
        using var client = new RawClient(cluster.Cluster);
        var reply = client.Send(node.EndPoint, new ClientRequest { Op = ClientOp.SetFaults, Faults = new FaultSpec { SuspendMs = 60_000 } }, Wait);
        Assert.Equal(ReplyStatus.BadRequest, reply!.Status);
        Assert.True(node.Faults.IsNone);
    }

    [Fact]
    public async Task A_partitioned_leader_is_replaced_and_a_suspension_lifts_by_itself()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { AllowFaultInjection = true });
        var leader = await cluster.WaitForLeaderAsync();
        var others = cluster.Servers.Values.Where(s => s != leader).Select(s => s!).ToArray();
        using var client = new RawClient(cluster.Cluster);
        var cut = client.Send(leader.EndPoint, new ClientRequest
        {
            Op = ClientOp.SetFaults, Faults = new FaultSpec { PartitionFrom = others.Select(o => o.NodeId).ToArray() },
        }, Wait);
        Assert.Equal(ReplyStatus.Ok, cut!.Status);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !others.Any(o => o.Status.Role == "Leader")) await Task.Delay(20);
        Assert.Contains(others, o => o.Status.Role == "Leader");
        Assert.Equal(ReplyStatus.Ok, client.Send(leader.EndPoint, new ClientRequest { Op = ClientOp.SetFaults, Faults = FaultSpec.None }, Wait)!.Status);

        var victim = others[0];
        Assert.Equal(ReplyStatus.Ok, client.Send(victim.EndPoint, new ClientRequest { Op = ClientOp.SetFaults, Faults = new FaultSpec { SuspendMs = 800 } }, Wait)!.Status);
        Assert.Null(client.Send(victim.EndPoint, new ClientRequest { Op = ClientOp.Status }, TimeSpan.FromMilliseconds(300)));
        ClientReply? after = null;
        for (int i = 0; i < 50 && after is null; i++) after = client.Send(victim.EndPoint, new ClientRequest { Op = ClientOp.Status }, TimeSpan.FromMilliseconds(200));
        Assert.NotNull(after);
        Assert.True(victim.Faults.IsNone || !victim.Faults.Suspended);
    }
}
