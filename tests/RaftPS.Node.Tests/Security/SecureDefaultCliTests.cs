using RaftPS.Cli;
using RaftPS.Node.Tests.Cli;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Security;

/// <summary>`raftps node` refuses a non-loopback address without a peer key, and says how to fix it.</summary>
public class SecureDefaultCliTests : IDisposable
{
    private readonly CliTempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_node_bound_to_all_interfaces_without_a_peer_key_refuses_to_start()
    {
        var member = new ClusterMember("solo", "127.0.0.1", RaftpsCli.FreePort());
        string file = _dir.File("cluster.json");
        new ClusterDefinition("cli-" + Guid.NewGuid().ToString("N")[..6], [member]).Save(file);
        var err = new StringWriter();
        int rc = await RaftPS.Cli.Program.RunAsync(
            ["node", "--id", "solo", "--cluster", file, "--data", _dir.File("data"), "--bind", "0.0.0.0"], new StringWriter(), err, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ExitCodes.Usage, rc);
        Assert.Contains("peer credential", err.ToString());
        Assert.Contains("--peer-key-file", err.ToString());
    }

    [Fact]
    public async Task Keygen_prints_a_fresh_random_secret_each_time()
    {
        var a = new StringWriter();
        var b = new StringWriter();
        Assert.Equal(0, await RaftPS.Cli.Program.RunAsync(["keygen"], a, new StringWriter(), CancellationToken.None));
        Assert.Equal(0, await RaftPS.Cli.Program.RunAsync(["keygen"], b, new StringWriter(), CancellationToken.None));
        Assert.True(a.ToString().Trim().Length >= ClusterCredentials.MinSecretLength);
        Assert.NotEqual(a.ToString(), b.ToString());
    }
}
