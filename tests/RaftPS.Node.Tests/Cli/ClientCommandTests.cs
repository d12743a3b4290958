using System.Text;
using System.Text.Json;
using RaftPS.Cli;
using RaftPS.Client;

namespace RaftPS.Node.Tests.Cli;

/// <summary>The client commands against a real in-process cluster: output, JSON and exit codes.</summary>
public class ClientCommandTests(CliClusterFixture fixture) : IClassFixture<CliClusterFixture>
{
    private string[] With(params string[] args) => [.. args, "--cluster", fixture.ClusterFile];

    [Fact]
    public async Task Put_then_get_prints_the_value_and_versions_grow()
    {
        string key = CliClusterFixture.UniquePrefix() + "greeting";
        var put1 = await RaftpsCli.RunAsync(With("put", key, "hello"));
        Assert.True(put1.Code == ExitCodes.Success, put1.ToString());
        Assert.Matches($"^put {key}: version \\d+$", put1.OutLines.Single());
        Assert.Equal("", put1.Err);

        var get = await RaftpsCli.RunAsync(With("get", key));
        Assert.True(get.Code == ExitCodes.Success, get.ToString());
        Assert.Equal("hello" + Environment.NewLine, get.Out);

        var put2 = await RaftpsCli.RunAsync(With("put", key, "wörld ✓", "--json"));
        using var doc = JsonDocument.Parse(put2.Out);
        Assert.Equal(key, doc.RootElement.GetProperty("key").GetString());
        ulong v1 = ulong.Parse(put1.OutLines[0].Split(' ')[^1]);
        Assert.True(doc.RootElement.GetProperty("version").GetUInt64() > v1);

        var getJson = await RaftpsCli.RunAsync(With("get", key, "--json"));
        using var g = JsonDocument.Parse(getJson.Out);
        Assert.Equal("wörld ✓", g.RootElement.GetProperty("value").GetString());
        Assert.Equal(doc.RootElement.GetProperty("version").GetUInt64(), g.RootElement.GetProperty("version").GetUInt64());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Get_of_a_missing_key_exits_4_with_one_line_on_stderr(bool json)
    {
        string key = CliClusterFixture.UniquePrefix() + "missing";
        var r = await RaftpsCli.RunAsync(json ? With("get", key, "--json") : With("get", key));
        Assert.True(r.Code == ExitCodes.KeyNotFound, r.ToString());
        Assert.Equal("", r.Out);
        string line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(key, line);
        if (json)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal(RaftErrorIds.KeyNotFound, doc.RootElement.GetProperty("error").GetString());
            Assert.Equal(ExitCodes.KeyNotFound, doc.RootElement.GetProperty("exitCode").GetInt32());
        }
        else
        {
            Assert.StartsWith("error: ", line);
        }
    }

    [Fact]
    public async Task Delete_removes_the_key_and_a_second_delete_exits_4()
    {
        string key = CliClusterFixture.UniquePrefix() + "doomed";
        Assert.Equal(ExitCodes.Success, (await RaftpsCli.RunAsync(With("put", key, "x"))).Code);
        var del = await RaftpsCli.RunAsync(With("delete", key));
        Assert.True(del.Code == ExitCodes.Success, del.ToString());
        Assert.Matches($"^deleted {key} \\(log index \\d+\\)$", del.OutLines.Single());
        Assert.Equal(ExitCodes.KeyNotFound, (await RaftpsCli.RunAsync(With("get", key))).Code);
        var again = await RaftpsCli.RunAsync(With("delete", key, "--json"));
        Assert.True(again.Code == ExitCodes.KeyNotFound, again.ToString());
        Assert.Contains(RaftErrorIds.KeyNotFound, again.Err);
    }

    public static TheoryData<string, string[], int, string?> CasCases => new()
    {
        // name, cas arguments after KEY VALUE ("{v}" = current version of the key, which starts as "old"), exit code, final value
        { "right version", ["--expect-version", "{v}"], ExitCodes.Success, "new" },
        { "wrong version", ["--expect-version", "1"], ExitCodes.VersionMismatch, "old" },
        { "right value", ["--expect-value", "old"], ExitCodes.Success, "new" },
        { "wrong value", ["--expect-value", "nope"], ExitCodes.VersionMismatch, "old" },
        { "both right", ["--expect-version", "{v}", "--expect-value", "old"], ExitCodes.Success, "new" },
        { "version right, value wrong", ["--expect-version", "{v}", "--expect-value", "nope"], ExitCodes.VersionMismatch, "old" },
        { "must not exist, but does", ["--expect-version", "0"], ExitCodes.VersionMismatch, "old" },
    };

    [Theory]
    [MemberData(nameof(CasCases))]
    public async Task Cas_writes_only_when_the_expectation_holds(string name, string[] expectations, int expectedCode, string? finalValue)
    {
        string key = CliClusterFixture.UniquePrefix() + "cas";
        var put = await RaftpsCli.RunAsync(With("put", key, "old", "--json"));
        using var doc = JsonDocument.Parse(put.Out);
        string version = doc.RootElement.GetProperty("version").GetUInt64().ToString();

        var cas = await RaftpsCli.RunAsync(With(["cas", key, "new", .. expectations.Select(a => a.Replace("{v}", version))]));
        Assert.True(cas.Code == expectedCode, $"{name}: {cas}");
        if (expectedCode == ExitCodes.Success) Assert.Matches($"^cas {key}: version \\d+$", cas.OutLines.Single());
        else Assert.Contains("compare-and-set", cas.Err);

        var get = await RaftpsCli.RunAsync(With("get", key));
        Assert.Equal(finalValue + Environment.NewLine, get.Out);
    }

    [Fact]
    public async Task Cas_with_version_0_creates_a_missing_key()
    {
        string key = CliClusterFixture.UniquePrefix() + "fresh";
        var cas = await RaftpsCli.RunAsync(With("cas", key, "first", "--expect-version", "0"));
        Assert.True(cas.Code == ExitCodes.Success, cas.ToString());
        Assert.Equal("first" + Environment.NewLine, (await RaftpsCli.RunAsync(With("get", key))).Out);
    }

    [Fact]
    public async Task List_prints_a_table_in_key_order_honours_pattern_and_limit_and_escapes_values()
    {
        string p = CliClusterFixture.UniquePrefix();
        foreach (var (k, v) in new[] { ("b", "two"), ("a", "one"), ("c", "line1\nline2") })
            Assert.Equal(ExitCodes.Success, (await RaftpsCli.RunAsync(With("put", p + k, v))).Code);
        // Binary written by another client: shown as base64, never as mojibake.
        await using (var client = RaftClient.Create(fixture.Cluster.Cluster))
            await client.PutAsync(p + "d", new byte[] { 0xFF, 0x00, 0xFE });

        var list = await RaftpsCli.RunAsync(With("list", p));
        Assert.True(list.Code == ExitCodes.Success, list.ToString());
        var lines = list.OutLines;
        Assert.Equal(5, lines.Length);
        Assert.Matches("^KEY +VERSION +VALUE$", lines[0]);
        Assert.Matches($"^{p}a +\\d+ +one$", lines[1]);
        Assert.Matches($"^{p}b +\\d+ +two$", lines[2]);
        Assert.Matches($"^{p}c +\\d+ +line1\\\\nline2$", lines[3]);
        Assert.EndsWith("base64:/wD+", lines[4]);
        // Columns line up: every value starts where the header's VALUE does.
        int valueColumn = lines[0].IndexOf("VALUE", StringComparison.Ordinal);
        Assert.All(lines[1..], l => Assert.NotEqual(' ', l[valueColumn]));
        Assert.All(lines[1..], l => Assert.Equal(' ', l[valueColumn - 1]));

        var limited = await RaftpsCli.RunAsync(With("list", p, "--limit", "2", "--json"));
        using var doc = JsonDocument.Parse(limited.Out);
        Assert.Equal([p + "a", p + "b"], doc.RootElement.EnumerateArray().Select(e => e.GetProperty("key").GetString()!).ToArray());

        var wildcard = await RaftpsCli.RunAsync(With("list", p + "?", "--json", "--stale"));
        using var all = JsonDocument.Parse(wildcard.Out);
        var items = all.RootElement.EnumerateArray().ToArray();
        Assert.Equal(4, items.Length);
        Assert.Equal("line1\nline2", items[2].GetProperty("value").GetString());
        Assert.Equal(Convert.ToBase64String(new byte[] { 0xFF, 0x00, 0xFE }), items[3].GetProperty("valueBase64").GetString());
        Assert.False(items[3].TryGetProperty("value", out _));
    }

    [Fact]
    public async Task List_with_no_match_prints_nothing_on_stdout_and_succeeds()
    {
        var r = await RaftpsCli.RunAsync(With("list", CliClusterFixture.UniquePrefix()));
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        Assert.Equal("", r.Out);
        Assert.Contains("no matching keys", r.Err);
        var json = await RaftpsCli.RunAsync(With("list", CliClusterFixture.UniquePrefix(), "--json"));
        Assert.Equal("[]", json.Out.Trim());
    }

    [Fact]
    public async Task Stale_get_answers_from_a_node_after_the_write_applied_there()
    {
        string key = CliClusterFixture.UniquePrefix() + "stale";
        var put = await RaftpsCli.RunAsync(With("put", key, "v", "--json"));
        using var doc = JsonDocument.Parse(put.Out);
        ulong version = doc.RootElement.GetProperty("version").GetUInt64();
        var servers = fixture.Cluster.Servers.Values.Select(s => s!).ToArray();
        await RaftpsCli.WaitUntilAsync(() => servers.All(s => s.Status.AppliedIndex >= version), TimeSpan.FromSeconds(10), "every node to apply the put");
        foreach (var s in servers)
        {
            var r = await RaftpsCli.RunAsync("get", key, "--stale", "--endpoints", $"127.0.0.1:{s.EndPoint.Port}", "--cluster-name", fixture.Cluster.Cluster.ClusterName);
            Assert.True(r.Code == ExitCodes.Success, $"{s.NodeId}: {r}");
            Assert.Equal("v" + Environment.NewLine, r.Out);
        }
    }

    [Fact]
    public async Task Endpoints_with_the_cluster_name_reach_the_cluster_and_a_wrong_name_is_unavailable()
    {
        string key = CliClusterFixture.UniquePrefix() + "ep";
        string name = fixture.Cluster.Cluster.ClusterName;
        var put = await RaftpsCli.RunAsync("put", key, "1", "--endpoints", fixture.Endpoints, "--cluster-name", name);
        Assert.True(put.Code == ExitCodes.Success, put.ToString());
        // --endpoints narrows --cluster to one node (any node finds the leader from there).
        var one = fixture.Cluster.Cluster.Members[0].Endpoint;
        var get = await RaftpsCli.RunAsync("get", key, "--cluster", fixture.ClusterFile, "--endpoints", one);
        Assert.True(get.Code == ExitCodes.Success, get.ToString());
        // Nodes drop datagrams of another cluster, so a read finds no leader: unavailable, not "not found".
        var wrong = await RaftpsCli.RunAsync("get", key, "--endpoints", fixture.Endpoints, "--cluster-name", "other", "--timeout", "0.5");
        Assert.True(wrong.Code == ExitCodes.Unavailable, wrong.ToString());
        Assert.StartsWith("error: ", wrong.Err);
    }

    [Fact]
    public async Task Status_shows_every_member_with_one_leader()
    {
        var r = await RaftpsCli.RunAsync(With("status"));
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        var lines = r.OutLines;
        Assert.Matches("^ID +ENDPOINT +ROLE +MEMBER +LAG +TERM +LEADER +COMMIT +APPLIED +LAST$", lines[0]);
        var rows = lines[1..4].Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        Assert.Equal(["n1", "n2", "n3"], rows.Select(c => c[0]).ToArray());
        Assert.Equal(fixture.Cluster.Cluster.Members.Select(m => m.Endpoint).ToArray(), rows.Select(c => c[1]).ToArray());
        var leaderRow = Assert.Single(rows, c => c[2] == "Leader");
        Assert.All(rows, c => Assert.Equal("voter", c[3]));
        Assert.All(rows, c => Assert.Equal(leaderRow[0], c[6])); // everyone names the same leader
        Assert.All(rows, c => Assert.True(ulong.Parse(c[7]) >= 1 && ulong.Parse(c[9]) >= ulong.Parse(c[7])));
        Assert.Equal($"3 of 3 nodes reachable; leader {leaderRow[0]} in term {leaderRow[5]}", lines[4]);

        var json = await RaftpsCli.RunAsync(With("status", "--json"));
        using var doc = JsonDocument.Parse(json.Out);
        var nodes = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(3, nodes.Length);
        Assert.All(nodes, n => Assert.True(n.GetProperty("reachable").GetBoolean()));
        Assert.Single(nodes, n => n.GetProperty("role").GetString() == "Leader");
        Assert.All(nodes, n => Assert.True(n.GetProperty("appliedIndex").GetUInt64() <= n.GetProperty("lastIndex").GetUInt64()));
    }

    [Fact]
    public async Task A_value_too_large_for_the_node_exits_with_its_own_code()
    {
        string key = CliClusterFixture.UniquePrefix() + "big";
        string huge = new('x', (1 << 20) + 1); // one byte over the node's default value limit
        var r = await RaftpsCli.RunAsync(With("put", key, huge, "--json"));
        Assert.True(r.Code == ExitCodes.ValueTooLarge, $"exit {r.Code}: {r.Err}");
        using var doc = JsonDocument.Parse(r.Err);
        Assert.Equal(r.Code, ExitCodes.ForErrorId(doc.RootElement.GetProperty("error").GetString()!));
        Assert.Equal(ExitCodes.KeyNotFound, (await RaftpsCli.RunAsync(With("get", key))).Code);
    }
}
