using RaftPS.Cli;

namespace RaftPS.Node.Tests.Cli;

/// <summary>Bad command lines and configuration: exit code 2 and a message that says what is wrong. No cluster needed.</summary>
public class UsageTests : IDisposable
{
    private readonly CliTempDir _dir = new();
    private readonly string _cluster;
    private readonly string _badJson;
    private readonly string _badLine;

    public UsageTests()
    {
        _cluster = _dir.File("cluster.json", """{"cluster":"u","members":[{"id":"n1","host":"127.0.0.1","port":7001},{"id":"n2","host":"127.0.0.1","port":7002}]}""");
        _badJson = _dir.File("bad.json", """{"cluster":"u","members":[{"id":"n1","host":"127.0.0.1","port":"x"}]}""");
        _badLine = _dir.File("bad.txt", "n1 127.0.0.1 7001\nn2 127.0.0.1\n");
    }

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string[], string> Cases => new()
    {
        // name, arguments ("{cluster}", "{badjson}", "{badline}", "{dir}" substituted), text stderr must contain
        { "no command", [], "Required command was not provided" },
        { "unknown command", ["frobnicate"], "frobnicate" },
        { "unknown option", ["get", "k", "--cluster", "{cluster}", "--frob"], "--frob" },
        { "get without key", ["get", "--cluster", "{cluster}"], "KEY" },
        { "put without value", ["put", "k", "--cluster", "{cluster}"], "VALUE" },
        { "no cluster given", ["put", "k", "v"], "--cluster FILE or --endpoints" },
        { "missing cluster file", ["get", "k", "--cluster", "{dir}/nope.json"], "cannot read cluster file" },
        { "invalid cluster json", ["get", "k", "--cluster", "{badjson}"], "bad.json" },
        { "invalid cluster line", ["status", "--cluster", "{badline}"], "bad.txt:2" },
        { "endpoint without port", ["get", "k", "--endpoints", "127.0.0.1"], "not host:port" },
        { "endpoint with bad port", ["get", "k", "--endpoints", "127.0.0.1:99999"], "99999" },
        { "zero timeout", ["get", "k", "--endpoints", "127.0.0.1:7001", "--timeout", "0"], "--timeout" },
        { "timeout not a number", ["get", "k", "--endpoints", "127.0.0.1:7001", "--timeout", "soon"], "soon" },
        { "contradicting cluster name", ["get", "k", "--cluster", "{cluster}", "--cluster-name", "other"], "contradicts" },
        { "cas without expectation", ["cas", "k", "v", "--cluster", "{cluster}"], "--expect-version N, --expect-value V" },
        { "cas version 0 with value", ["cas", "k", "v", "--cluster", "{cluster}", "--expect-version", "0", "--expect-value", "x"], "must not exist" },
        { "cas negative version", ["cas", "k", "v", "--cluster", "{cluster}", "--expect-version", "-1"], "--expect-version" },
        { "negative limit", ["list", "--cluster", "{cluster}", "--limit", "-1"], "--limit" },
        { "empty key", ["get", "", "--cluster", "{cluster}"], "key must not be empty" },
        { "node without options", ["node"], "--id" },
        { "node id not a member", ["node", "--id", "n9", "--cluster", "{cluster}", "--data", "{dir}/d"], "'n9' is not a member of cluster 'u'" },
        { "node bad bind", ["node", "--id", "n1", "--cluster", "{cluster}", "--data", "{dir}/d", "--bind", "localhost-ish"], "--bind" },
        { "node tick zero", ["node", "--id", "n1", "--cluster", "{cluster}", "--data", "{dir}/d", "--tick-ms", "0"], "--tick-ms must be from 1" },
        { "node bad log level", ["node", "--id", "n1", "--cluster", "{cluster}", "--data", "{dir}/d", "--log-level", "loud"], "loud" },
        { "node bad cluster file", ["node", "--id", "n1", "--cluster", "{badjson}", "--data", "{dir}/d"], "bad.json" },
        { "demo zero values", ["demo", "--values", "0"], "--values" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_usage_exits_2_with_a_message(string name, string[] args, string expected)
    {
        var r = await RaftpsCli.RunAsync(args.Select(Expand).ToArray());
        Assert.True(r.Code == ExitCodes.Usage, $"{name}: {r}");
        Assert.True(r.Err.Contains(expected, StringComparison.Ordinal), $"{name}: stderr lacks '{expected}': {r}");
        Assert.StartsWith("error: ", r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task Member_list_is_named_when_the_node_id_is_unknown()
    {
        var r = await RaftpsCli.RunAsync("node", "--id", "n9", "--cluster", _cluster, "--data", Path.Combine(_dir.Path, "d"));
        Assert.Equal(ExitCodes.Usage, r.Code);
        Assert.Contains("(members: n1, n2)", r.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "d")), "no data directory may be created for a node that cannot run");
    }

    [Fact]
    public async Task Help_documents_every_command_and_the_exit_codes()
    {
        var r = await RaftpsCli.RunAsync("--help");
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        foreach (var command in new[] { "node", "put", "get", "delete", "cas", "list", "status", "demo", "version" })
            Assert.Matches($"(?m)^  {command}\\b", r.Out);
        Assert.Contains("Exit codes:", r.Out);
        foreach (var id in new[] { "RaftPS.KeyNotFound", "RaftPS.VersionMismatch", "RaftPS.Unavailable", "RaftPS.Timeout", "RaftPS.ValueTooLarge", "RaftPS.BadRequest", "RaftPS.ClientError" })
        {
            var line = r.OutLines.Single(l => l.Contains(id, StringComparison.Ordinal));
            Assert.StartsWith(ExitCodes.ForErrorId(id) + " ", line);
        }
    }

    [Theory]
    [InlineData("node", "--snapshot-threshold-mb")]
    [InlineData("get", "--stale")]
    [InlineData("cas", "--expect-version")]
    [InlineData("list", "--limit")]
    [InlineData("status", "--endpoints")]
    [InlineData("demo", "--keep")]
    public async Task Command_help_lists_its_options(string command, string option)
    {
        var r = await RaftpsCli.RunAsync(command, "--help");
        Assert.Equal(ExitCodes.Success, r.Code);
        Assert.Contains(option, r.Out);
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var r = await RaftpsCli.RunAsync("version");
        Assert.Equal(ExitCodes.Success, r.Code);
        Assert.Matches(@"^raftps \d+\.\d+\.\d+\S* \(\.NET ", r.Out);
    }

    [Theory]
    [InlineData("get")]
    [InlineData("list")]
    [InlineData("status")]
    public async Task Reads_from_nodes_that_do_not_exist_are_unavailable(string command)
    {
        string[] args = command == "get" ? ["get", "k"] : [command];
        var r = await RaftpsCli.RunAsync([.. args, "--endpoints", $"127.0.0.1:{RaftpsCli.FreePort()}", "--timeout", "0.3"]);
        Assert.True(r.Code == ExitCodes.Unavailable, r.ToString());
        Assert.Contains("error: ", r.Err);
    }

    [Fact]
    public async Task A_write_without_an_answer_is_reported_as_outcome_unknown()
    {
        var r = await RaftpsCli.RunAsync("put", "k", "v", "--endpoints", $"127.0.0.1:{RaftpsCli.FreePort()}", "--timeout", "0.3", "--json");
        Assert.True(r.Code == ExitCodes.Timeout, r.ToString());
        Assert.Contains("\"error\":\"RaftPS.Timeout\"", r.Err);
    }

    private string Expand(string arg) => arg
        .Replace("{cluster}", _cluster)
        .Replace("{badjson}", _badJson)
        .Replace("{badline}", _badLine)
        .Replace("{dir}", _dir.Path);
}
