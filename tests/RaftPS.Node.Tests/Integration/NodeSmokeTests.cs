using System.Text;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Integration;

public class NodeSmokeTests
{
    [Fact]
    public async Task Members_named_by_host_name_find_each_other_through_DNS_off_the_loop()
    {
        await using var cluster = InProcessCluster.Start(3, host: "localhost");
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = RaftPS.Client.RaftClient.Create(cluster.Cluster, new RaftPS.Client.RaftClientOptions { Deadline = TimeSpan.FromSeconds(20) });
        var put = await client.PutAsync("named", "1");
        foreach (var s in cluster.Servers.Values)
        {
            for (int i = 0; i < 500 && s!.Status.AppliedIndex < put.Version; i++) await Task.Delay(20);
            Assert.True(s!.Status.AppliedIndex >= put.Version, $"{s.NodeId} applied {s.Status.AppliedIndex} of {put.Version}");
        }
    }

    [Fact]
    public async Task Three_nodes_elect_a_leader_and_replicate_a_write()
    {
        await using var cluster = InProcessCluster.Start(3);
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new RawClient(cluster.Cluster);
        var put = client.Send(leader.EndPoint, new ClientRequest { ClientId = client.ClientId, Sequence = 1, Op = ClientOp.Put, Key = "a", Value = "1"u8.ToArray() }, TimeSpan.FromSeconds(5));
        Assert.NotNull(put);
        Assert.Equal(ReplyStatus.Ok, put!.Status);
        Assert.True(put.Version > 0);
        var get = client.Send(leader.EndPoint, new ClientRequest { Op = ClientOp.Get, Key = "a" }, TimeSpan.FromSeconds(5));
        Assert.Equal(ReplyStatus.Ok, get!.Status);
        Assert.Equal("1", Encoding.UTF8.GetString(get.Items[0].Value));
        // Every node applies it (bounded wait), and a stale read on a follower sees it, labelled stale.
        var follower = cluster.Servers.Values.First(s => s != leader)!;
        for (int i = 0; i < 200 && follower.Status.AppliedIndex < put.Version; i++) await Task.Delay(20);
        var stale = client.Send(follower.EndPoint, new ClientRequest { Op = ClientOp.Get, Key = "a", Consistency = ReadConsistency.Stale }, TimeSpan.FromSeconds(5));
        Assert.True(stale!.Stale);
        Assert.Equal("1", Encoding.UTF8.GetString(stale.Items[0].Value));
        var notLeader = client.Send(follower.EndPoint, new ClientRequest { Op = ClientOp.Get, Key = "a" }, TimeSpan.FromSeconds(5));
        Assert.Equal(ReplyStatus.NotLeader, notLeader!.Status);
        Assert.Equal(leader.NodeId, notLeader.LeaderId);
    }
}
