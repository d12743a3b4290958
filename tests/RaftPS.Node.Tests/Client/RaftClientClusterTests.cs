using System.Text;
using RaftPS.Client;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Client;

/// <summary>The client against real in-process nodes: discovery from any member, every operation, leader failover.</summary>
public sealed class RaftClientClusterTests
{
    private static RaftClientOptions Settings => new() { Deadline = TimeSpan.FromSeconds(15), AttemptTimeout = TimeSpan.FromMilliseconds(300) };

    [Fact]
    public async Task EveryOperationWorksAgainstARealCluster()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { Fsync = false });
        await using var client = RaftClient.Create(cluster.Cluster, Settings);

        var put = await client.PutAsync("app/a", "1");
        Assert.True(put.Version > 0);
        Assert.Equal("1", Encoding.UTF8.GetString((await client.GetAsync("app/a")).Value));
        var cas = await client.CompareAndSetAsync("app/a", "2"u8.ToArray(), put.Version);
        var mismatch = await Assert.ThrowsAsync<RaftVersionMismatchException>(() => client.CompareAndSetAsync("app/a", "3"u8.ToArray(), put.Version));
        Assert.Equal(cas.Version, mismatch.CurrentVersion);
        await client.PutAsync("app/b", "x");
        Assert.Equal(["app/a", "app/b"], (await client.ListAsync("app/")).Select(i => i.Key));
        Assert.True(await client.DeleteAsync("app/b") > 0);
        await Assert.ThrowsAsync<RaftKeyNotFoundException>(() => client.GetAsync("app/b"));
        await Assert.ThrowsAsync<RaftKeyNotFoundException>(() => client.DeleteAsync("app/b"));

        var leader = await client.LeaderAsync();
        var statuses = await client.ClusterStatusAsync();
        Assert.Equal(3, statuses.Count);
        Assert.Single(statuses, s => s.Role == "Leader");
        Assert.Equal(cluster.Servers.Values.Single(s => s!.Status.Role == "Leader")!.EndPoint.Port, leader.Port);

        // A stale read from a follower sees the write once it has applied it.
        var follower = cluster.Servers.Values.First(s => s!.EndPoint.Port != leader.Port)!;
        await using var staleClient = new RaftClient(Settings with { Endpoints = [follower.EndPoint], ClusterName = cluster.Cluster.ClusterName, PreferredEndpoint = follower.EndPoint });
        KvItem? seen = null;
        for (int i = 0; i < 100 && seen?.Version != cas.Version; i++)
        {
            seen = await staleClient.TryGetAsync("app/a", ReadConsistency.Stale);
            if (seen?.Version != cas.Version) await Task.Delay(20);
        }
        Assert.Equal(cas.Version, seen?.Version);
    }

    [Fact]
    public async Task WritesSurviveLeaderFailoverExactlyOnce()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { Fsync = false });
        await using var client = RaftClient.Create(cluster.Cluster, Settings);

        var acked = new Dictionary<string, ulong>();
        for (int i = 0; i < 20; i++) acked[$"k{i}"] = (await client.PutAsync($"k{i}", $"v{i}")).Version;

        var old = await cluster.WaitForLeaderAsync();
        await cluster.StopNodeAsync(old.NodeId);
        // Concurrent writes during the election: each either succeeds (once) or reports an unknown outcome.
        var results = await Task.WhenAll(Enumerable.Range(20, 40).Select(async i =>
        {
            try { return (Key: $"k{i}", Version: (ulong?)(await client.PutAsync($"k{i}", $"v{i}")).Version); }
            catch (RaftTimeoutException e) when (e.OutcomeUnknown) { return (Key: $"k{i}", Version: (ulong?)null); }
        }));
        foreach (var r in results.Where(r => r.Version is not null)) acked[r.Key] = r.Version!.Value;
        Assert.True(acked.Count > 20, "the surviving majority accepts writes");
        Assert.NotEqual(old.EndPoint, client.KnownLeader);

        var all = await client.ListAsync("k");
        foreach (var (key, version) in acked)
        {
            var item = Assert.Single(all, i => i.Key == key);
            Assert.Equal(version, item.Version); // acknowledged and never applied a second time
        }
    }
}
