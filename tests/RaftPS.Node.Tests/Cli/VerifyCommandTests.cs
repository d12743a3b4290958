using System.Text.Json;
using RaftPS.Cli;
using RaftPS.Client;
using RaftPS.Node.Tests.Integration;

namespace RaftPS.Node.Tests.Cli;

/// <summary>`raftps verify`: replicas compared by state digest at one checkpoint; exit 13 when one drifted.</summary>
public class VerifyCommandTests
{
    [Fact]
    public async Task Reports_agreeing_replicas_with_0_and_an_altered_replica_with_13()
    {
        await using var cluster = InProcessCluster.Start(3);
        using var dir = new CliTempDir();
        string file = dir.File("cluster.json");
        cluster.Cluster.Save(file);
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(20) });
        await client.PutAsync("a", "1");

        var agree = await RaftpsCli.RunAsync("verify", "--cluster", file);
        Assert.True(agree.Code == ExitCodes.Success, agree.ToString());
        Assert.Matches("^checkpoint at index [0-9]+, leader n[123], digest [0-9a-f]{32}$", agree.OutLines[0]);
        Assert.Matches("^ID +ENDPOINT +STATE +INDEX +DETAIL$", agree.OutLines[1]);
        Assert.Equal(3, agree.OutLines.Count(l => l.Contains(" agrees ")));

        string victim = await ReplicaDigestTests.AlterAFollowersStateAsync(cluster, client, leader);
        var differ = await RaftpsCli.RunAsync("verify", "--cluster", file, "--json");
        Assert.True(differ.Code == ExitCodes.ReplicasDiffer, differ.ToString());
        using var doc = JsonDocument.Parse(differ.Out);
        Assert.False(doc.RootElement.GetProperty("consistent").GetBoolean());
        var states = doc.RootElement.GetProperty("replicas").EnumerateArray()
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("state").GetString());
        Assert.Equal("Differs", states[victim]);
        Assert.Equal(2, states.Values.Count(s => s == "Agrees"));

        // The altered replica found the mismatch itself when the second checkpoint reached it; status says so.
        var status = await RaftpsCli.RunAsync("status", "--cluster", file);
        for (int i = 0; i < 100 && !status.Out.Contains("STATE DRIFT"); i++)
        {
            await Task.Delay(100);
            status = await RaftpsCli.RunAsync("status", "--cluster", file);
        }
        Assert.Contains(status.OutLines, l => l.StartsWith($"{victim}: STATE DRIFT: state digest at index", StringComparison.Ordinal));
    }
}
