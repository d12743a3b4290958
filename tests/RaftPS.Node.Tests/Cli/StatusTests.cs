using System.Text.Json;
using RaftPS.Cli;
using RaftPS.Node.Tests.Integration;

namespace RaftPS.Node.Tests.Cli;

/// <summary>`raftps status` with a member down: it is listed as unreachable, the rest still answer.</summary>
public class StatusTests
{
    [Fact]
    public async Task A_stopped_member_is_shown_as_unreachable()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { SegmentBytes = 1 << 20 });
        using var dir = new CliTempDir();
        string file = dir.File("cluster.json");
        cluster.Cluster.Save(file);
        await cluster.WaitForLeaderAsync();
        await cluster.StopNodeAsync("n3");
        await cluster.WaitForLeaderAsync();

        var r = await RaftpsCli.RunAsync("status", "--cluster", file, "--timeout", "0.5");
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        var rows = r.OutLines[1..4].Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        Assert.Equal(["n3", cluster.Cluster.Members[2].Endpoint, "unreachable", "-", "-", "-", "-", "-", "-", "-"], rows[2]);
        Assert.Single(rows, c => c[2] == "Leader");
        Assert.StartsWith("2 of 3 nodes reachable; leader n", r.OutLines[4]);

        var json = await RaftpsCli.RunAsync("status", "--cluster", file, "--timeout", "0.5", "--json");
        using var doc = JsonDocument.Parse(json.Out);
        var n3 = doc.RootElement.EnumerateArray().Single(e => e.GetProperty("id").GetString() == "n3");
        Assert.False(n3.GetProperty("reachable").GetBoolean());
        Assert.False(string.IsNullOrEmpty(n3.GetProperty("error").GetString()));
        Assert.False(n3.TryGetProperty("role", out _));

        // Without a cluster file an unreachable node has no name.
        var byEndpoint = await RaftpsCli.RunAsync("status", "--endpoints", cluster.Cluster.Members[2].Endpoint, "--cluster-name", cluster.Cluster.ClusterName, "--timeout", "0.3");
        Assert.True(byEndpoint.Code == ExitCodes.Unavailable, byEndpoint.ToString());
        Assert.StartsWith("?  ", byEndpoint.OutLines[1]);
        Assert.Equal("0 of 1 nodes reachable; no leader", byEndpoint.OutLines[2]);
    }
}
