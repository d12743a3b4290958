using System.Net;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Client;

public sealed class RaftClientRoutingTests
{
    private static readonly KvItem Item = new("k", [1, 2, 3], 5);

    [Fact]
    public async Task FollowsNotLeaderHintAndRemembersTheLeader()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        await using var c = new FakeNode("c");
        a.Handler = (_, _) => FakeNode.NotLeader(c.Address);
        b.Handler = (_, _) => FakeNode.NotLeader(c.Address);
        c.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(a, b, c));

        var item = await client.GetAsync("k");
        Assert.Equal(Item.Version, item.Version);
        Assert.Equal(Item.Value, item.Value);
        Assert.Equal(1, a.RequestCount);
        Assert.Equal(0, b.RequestCount); // the hint went straight to c, not round-robin through b
        Assert.Equal(1, c.RequestCount);
        Assert.Equal(c.EndPoint, client.KnownLeader);

        // The next operations go to the remembered leader directly.
        await client.GetAsync("k");
        await client.PutAsync("k", "v");
        Assert.Equal(1, a.RequestCount);
        Assert.Equal(3, c.RequestCount);
    }

    [Fact]
    public async Task WithoutHintTriesTheNextEndpoint()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        await using var c = new FakeNode("c");
        a.Handler = (_, _) => FakeNode.NotLeader();
        b.Handler = (_, _) => FakeNode.NotLeader();
        c.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(a, b, c));

        await client.GetAsync("k");
        Assert.Equal(1, a.RequestCount);
        Assert.Equal(1, b.RequestCount);
        Assert.Equal(1, c.RequestCount);
        Assert.Equal(c.EndPoint, client.KnownLeader);
    }

    [Fact]
    public async Task SilentNodeIsSkippedAfterTheAttemptTimeout()
    {
        await using var dead = new FakeNode("dead"); // answers nothing
        await using var leader = new FakeNode("leader");
        leader.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(dead, leader) with { AttemptTimeout = FakeNode.Short });

        Assert.Equal(Item.Version, (await client.GetAsync("k")).Version);
        Assert.True(dead.RequestCount >= 1);
        Assert.True(leader.RequestCount >= 1);
        Assert.Equal(leader.EndPoint, client.KnownLeader);
    }

    [Fact]
    public async Task LeaderThatStopsAnsweringIsForgotten()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        a.Handler = (_, _) => FakeNode.Ok(5, Item);
        b.Handler = (_, _) => FakeNode.NotLeader(a.Address);
        await using var client = new RaftClient(FakeNode.Options(a, b) with { AttemptTimeout = FakeNode.Short });
        await client.GetAsync("k");
        Assert.Equal(a.EndPoint, client.KnownLeader);

        // a goes silent, b takes over.
        a.Handler = null;
        b.Handler = (_, _) => FakeNode.Ok(6, Item with { Version = 6 });
        var item = await client.GetAsync("k");
        Assert.Equal(6UL, item.Version);
        Assert.Equal(b.EndPoint, client.KnownLeader);
    }

    [Fact]
    public async Task RedirectsKeepTheSameSessionAcrossNodes()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        var kv = new FakeKv();
        a.Handler = (_, _) => FakeNode.NotLeader(b.Address);
        b.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(a, b));

        await client.PutAsync("k", "v");
        var first = Assert.Single(a.Writes);
        var second = Assert.Single(b.Writes);
        Assert.Equal((first.ClientId, first.Sequence), (second.ClientId, second.Sequence));
        Assert.NotEqual(first.RequestId, second.RequestId);
    }

    [Fact]
    public async Task StaleReadsAreServedByThePreferredNodeAndNeverRedirected()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        await using var c = new FakeNode("c");
        a.Handler = (_, r) => r.Consistency == ReadConsistency.Stale
            ? new ClientReply { Status = ReplyStatus.Ok, Items = [Item], Stale = true }
            : FakeNode.NotLeader(c.Address);
        c.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(a, b, c));

        var item = await client.GetAsync("k", ReadConsistency.Stale);
        Assert.Equal(Item.Version, item.Version);
        var list = await client.ListAsync("", 0, ReadConsistency.Stale);
        Assert.Single(list);
        Assert.Equal(2, a.RequestCount);
        Assert.All(a.Requests, r => Assert.Equal(ReadConsistency.Stale, r.Consistency));
        Assert.Equal(0, c.RequestCount);
        Assert.Null(client.KnownLeader);
    }

    [Fact]
    public async Task StaleReadRefusedByANodeMovesToTheNextEndpointNotAlongTheHint()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        await using var c = new FakeNode("c");
        a.Handler = (_, _) => FakeNode.NotLeader(c.Address);
        b.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, Items = [Item], Stale = true };
        c.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(a, b, c) with { PreferredEndpoint = a.EndPoint });

        await client.GetAsync("k", ReadConsistency.Stale);
        Assert.Equal(1, a.RequestCount);
        Assert.Equal(1, b.RequestCount);
        Assert.Equal(0, c.RequestCount);
    }

    [Fact]
    public async Task PreferredEndpointTakesStaleReads()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        a.Handler = b.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, Items = [Item], Stale = true };
        await using var client = new RaftClient(FakeNode.Options(a, b) with { PreferredEndpoint = b.EndPoint });

        for (int i = 0; i < 3; i++) await client.GetAsync("k", ReadConsistency.Stale);
        Assert.Equal(0, a.RequestCount);
        Assert.Equal(3, b.RequestCount);
    }

    [Fact]
    public async Task StatusAsksOnlyThatNode()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        a.Handler = (_, _) => FakeNode.NotLeader(b.Address);
        b.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "b", Role = "Follower", Term = 3 } };
        await using var client = new RaftClient(FakeNode.Options(a, b));

        var status = await client.StatusAsync(b.EndPoint);
        Assert.Equal("b", status.Id);
        Assert.Equal(3UL, status.Term);
        Assert.Equal(0, a.RequestCount);
        Assert.All(b.Requests, r => Assert.Equal(ClientOp.Status, r.Op));
    }

    [Fact]
    public async Task ClusterStatusReturnsEveryNodeThatAnswered()
    {
        await using var a = new FakeNode("a");
        await using var silent = new FakeNode("silent");
        await using var c = new FakeNode("c");
        a.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "a", Role = "Follower" } };
        c.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "c", Role = "Leader" } };
        await using var client = new RaftClient(FakeNode.Options(a, silent, c) with { StatusTimeout = TimeSpan.FromMilliseconds(500) });

        var statuses = await client.ClusterStatusAsync();
        Assert.Equal(["a", "c"], statuses.Select(s => s.Id));
        Assert.Equal(c.EndPoint, client.KnownLeader);
        Assert.True(silent.RequestCount >= 1);
    }

    [Fact]
    public async Task ClusterStatusWithNoAnswerIsUnavailable()
    {
        await using var a = new FakeNode("a");
        await using var client = new RaftClient(FakeNode.Options(a) with { StatusTimeout = TimeSpan.FromMilliseconds(200) });
        var e = await Assert.ThrowsAsync<RaftUnavailableException>(() => client.ClusterStatusAsync());
        Assert.Contains(a.EndPoint.ToString(), e.Message);
    }

    [Theory]
    [InlineData(true)]   // the follower names the leader by id; its address comes from the member list
    [InlineData(false)]  // the follower's reply carries the leader's endpoint
    public async Task LeaderAsyncFollowsStatusHints(bool byId)
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        await using var c = new FakeNode("c");
        MemberInfo[] members = [new("a", "127.0.0.1", a.EndPoint.Port, true), new("b", "127.0.0.1", b.EndPoint.Port, true), new("c", "127.0.0.1", c.EndPoint.Port, true)];
        a.Handler = (_, _) => new ClientReply
        {
            Status = ReplyStatus.Ok,
            LeaderEndpoint = byId ? null : c.Address,
            NodeStatus = new NodeStatus { Id = "a", Role = "Follower", Leader = byId ? "c" : null, Members = members },
        };
        c.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "c", Role = "Leader", Leader = "c", Members = members } };
        await using var client = new RaftClient(FakeNode.Options(a, b, c));

        Assert.Equal(c.EndPoint, await client.LeaderAsync());
        Assert.Equal(0, b.RequestCount);
        Assert.Equal(c.EndPoint, client.KnownLeader);
    }

    [Fact]
    public async Task LeaderAsyncWithoutLeaderIsUnavailable()
    {
        await using var a = new FakeNode("a");
        a.Handler = (_, _) => new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "a", Role = "Candidate" } };
        await using var client = new RaftClient(FakeNode.Options(a) with { Deadline = TimeSpan.FromMilliseconds(300) });
        var e = await Assert.ThrowsAsync<RaftUnavailableException>(() => client.LeaderAsync());
        Assert.Contains("Candidate", e.Message);
    }

    [Fact]
    public async Task ClusterKeyMustMatch()
    {
        await using var keyed = new FakeNode("a", key: "s3cret");
        keyed.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using (var good = new RaftClient(FakeNode.Options(keyed) with { ClusterKey = "s3cret" }))
            Assert.Equal(5UL, (await good.GetAsync("k")).Version);

        await using var bad = new RaftClient(FakeNode.Options(keyed) with { ClusterKey = "wrong", Deadline = TimeSpan.FromMilliseconds(300) });
        await Assert.ThrowsAsync<RaftUnavailableException>(() => bad.GetAsync("k"));
        Assert.Equal(1, keyed.RequestCount); // the wrongly keyed datagrams never reached the handler
    }

    [Fact]
    public async Task ForeignClusterNameIsIgnored()
    {
        await using var node = new FakeNode("a", clusterName: "other");
        node.Handler = (_, _) => FakeNode.Ok(5, Item);
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromMilliseconds(250) });
        await Assert.ThrowsAsync<RaftUnavailableException>(() => client.GetAsync("k"));
        Assert.Equal(0, node.RequestCount);
    }

    [Fact]
    public async Task CreateFromClusterDefinitionUsesItsMembersNameAndKey()
    {
        await using var a = new FakeNode("n1", clusterName: "demo", key: "k3y");
        await using var b = new FakeNode("n2", clusterName: "demo", key: "k3y");
        b.Handler = (_, _) => FakeNode.Ok(9, Item with { Version = 9 });
        a.Handler = (_, _) => FakeNode.NotLeader(b.Address);
        var cluster = ClusterDefinition.Parse($"cluster demo\nkey k3y\nn1 127.0.0.1 {a.EndPoint.Port}\nn2 127.0.0.1 {b.EndPoint.Port}\n");
        await using var client = RaftClient.Create(cluster, FakeNode.Options(a));

        Assert.Equal([a.EndPoint, b.EndPoint], client.Endpoints);
        Assert.Equal(9UL, (await client.GetAsync("k")).Version);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)client.LocalEndPoint).Address);
    }

    [Fact]
    public async Task TransferLeadershipGoesToTheLeaderAndForgetsIt()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        a.Handler = (_, _) => FakeNode.NotLeader(b.Address);
        b.Handler = (_, r) => r.Key == "a"
            ? new ClientReply { Status = ReplyStatus.Ok, LeaderId = "a", LeaderEndpoint = a.Address }
            : FakeNode.Status(ReplyStatus.BadRequest, error: $"'{r.Key}' is not a voting member");
        await using var client = new RaftClient(FakeNode.Options(a, b));

        await client.TransferLeadershipAsync("a");
        Assert.Equal(ClientOp.TransferLeadership, Assert.Single(b.Requests).Op);
        Assert.Null(client.KnownLeader);
        var e = await Assert.ThrowsAsync<RaftBadRequestException>(() => client.TransferLeadershipAsync("nope"));
        Assert.Contains("not a voting member", e.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => client.TransferLeadershipAsync(""));
    }

    [Fact]
    public async Task SetFaultsGoesToTheNamedNodeOnly()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        b.Handler = (_, r) => r.Faults!.SuspendMs > 0 ? FakeNode.Status(ReplyStatus.BadRequest, error: "fault injection is disabled") : FakeNode.Ok();
        await using var client = new RaftClient(FakeNode.Options(a, b));

        await client.SetFaultsAsync(b.EndPoint, new FaultSpec { DropRate = 0.5, PartitionFrom = ["a"] });
        var sent = Assert.Single(b.Requests);
        Assert.Equal(0.5, sent.Faults!.DropRate);
        Assert.Equal(["a"], sent.Faults.PartitionFrom);
        var e = await Assert.ThrowsAsync<RaftBadRequestException>(() => client.SetFaultsAsync(b.EndPoint, new FaultSpec { SuspendMs = 100 }));
        Assert.Contains("disabled", e.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.SetFaultsAsync(b.EndPoint, new FaultSpec { DropRate = 2 }));
        Assert.Equal(0, a.RequestCount);
    }
}
