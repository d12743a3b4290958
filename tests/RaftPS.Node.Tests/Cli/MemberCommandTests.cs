using System.Text.Json;
using RaftPS.Cli;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Cli;

/// <summary>`raftps member list|add|remove|promote` against a real cluster: output, JSON and exit codes.</summary>
public class MemberCommandTests
{
    [Fact]
    public async Task Adds_a_joiner_lists_promotes_and_removes_it_and_refusals_exit_with_11()
    {
        await using var cluster = InProcessCluster.Start(3);
        using var dir = new CliTempDir();
        string file = dir.File("cluster.json");
        cluster.Cluster.Save(file);
        await cluster.WaitForLeaderAsync();

        var port = FreePorts.Udp(1)[0];
        var listen = new ClusterMember("n4", "127.0.0.1", port);
        cluster.Servers["n4"] = RaftServer.Start(new NodeOptions
        {
            NodeId = "n4", DataDirectory = Path.Combine(cluster.Root, "n4"), Join = true, Listen = listen, ClusterName = cluster.Cluster.ClusterName,
        });

        var add = await RaftpsCli.RunAsync("member", "add", "n4", listen.Endpoint, "--learner", "--cluster", file, "--json");
        Assert.True(add.Code == ExitCodes.Success, add.ToString());
        using (var doc = JsonDocument.Parse(add.Out))
        {
            var n4 = doc.RootElement.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "n4");
            Assert.Equal(MemberRoles.Learner, n4.GetProperty("role").GetString());
            Assert.Equal(listen.Endpoint, n4.GetProperty("endpoint").GetString());
        }

        // Refused until the learner has acknowledged entries (caught up); then it goes through.
        var promote = await RaftpsCli.RunAsync("member", "promote", "n4", "--cluster", file);
        for (int i = 0; i < 100 && promote.Code == ExitCodes.MembershipRejected && promote.Err.Contains("caught up"); i++)
        {
            await Task.Delay(100);
            promote = await RaftpsCli.RunAsync("member", "promote", "n4", "--cluster", file);
        }
        Assert.True(promote.Code == ExitCodes.Success, promote.ToString());
        Assert.Matches("^ID +ENDPOINT +ROLE +MATCH +LAG +REACHABLE$", promote.OutLines[0]);
        Assert.Contains(promote.OutLines, l => l.StartsWith("n4 ", StringComparison.Ordinal) && l.Contains(" voter "));

        var list = await RaftpsCli.RunAsync("member", "list", "--cluster", file);
        Assert.True(list.Code == ExitCodes.Success, list.ToString());
        Assert.Equal(4, list.OutLines.Count(l => l.Contains(" voter ")));

        var unknown = await RaftpsCli.RunAsync("member", "remove", "nobody", "--cluster", file);
        Assert.True(unknown.Code == ExitCodes.MembershipRejected, unknown.ToString());
        Assert.Contains("not a member", unknown.Err);
        var duplicate = await RaftpsCli.RunAsync("member", "add", "n2", "127.0.0.1:1", "--cluster", file);
        Assert.True(duplicate.Code == ExitCodes.MembershipRejected, duplicate.ToString());

        var remove = await RaftpsCli.RunAsync("member", "remove", "n4", "--cluster", file, "--json");
        Assert.True(remove.Code == ExitCodes.Success, remove.ToString());
        using (var doc = JsonDocument.Parse(remove.Out))
            Assert.DoesNotContain(doc.RootElement.GetProperty("members").EnumerateArray(), m => m.GetProperty("id").GetString() == "n4");

        var status = await RaftpsCli.RunAsync("status", "--cluster", file);
        Assert.True(status.Code == ExitCodes.Success, status.ToString());
        Assert.Equal(3, status.OutLines.Count(l => l.Contains(" voter ")));
    }
}
