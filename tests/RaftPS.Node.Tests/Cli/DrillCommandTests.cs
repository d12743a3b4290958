using System.Diagnostics;
using System.Text.Json;
using RaftPS.Cli;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Cli;

/// <summary>A 3-node in-process cluster that accepts fault injection, with its cluster file.</summary>
public sealed class DrillClusterFixture : IAsyncLifetime
{
    public InProcessCluster Cluster { get; private set; } = null!;
    public string ClusterFile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Cluster = InProcessCluster.Start(3, (_, o) => o with { SegmentBytes = 1 << 20, AllowFaultInjection = true });
        ClusterFile = Path.Combine(Cluster.Root, "cluster.json");
        Cluster.Cluster.Save(ClusterFile);
        await Cluster.WaitForLeaderAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    public RaftServer Server(string id) => Cluster.Servers[id]!;

    public string EndpointOf(string id) => Cluster.Cluster.Find(id)!.Endpoint;
}

/// <summary>
/// `raftps fault` and `raftps transfer` against a real cluster. Tests of one class run one at a time, and each leaves
/// the cluster without faults and with a leader.
/// </summary>
public class DrillCommandTests(DrillClusterFixture fixture) : IClassFixture<DrillClusterFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    private string[] With(params string[] args) => [.. args, "--cluster", fixture.ClusterFile];

    public async Task InitializeAsync() => await fixture.Cluster.WaitForLeaderAsync();

    public async Task DisposeAsync()
    {
        foreach (var m in fixture.Cluster.Cluster.Members)
        {
            var r = await RaftpsCli.RunAsync(With("fault", "--node", m.Id, "--clear"));
            Assert.True(r.Code == ExitCodes.Success, r.ToString());
        }
        await RaftpsCli.WaitUntilAsync(() => fixture.Cluster.Servers.Values.All(s => s!.Faults.IsNone), Bound, "faults to clear");
        await fixture.Cluster.WaitForLeaderAsync();
    }

    private async Task<(RaftServer Leader, RaftServer[] Followers)> LeaderAndFollowersAsync()
    {
        var leader = await fixture.Cluster.WaitForLeaderAsync();
        return (leader, fixture.Cluster.Servers.Values.Select(s => s!).Where(s => s != leader).ToArray());
    }

    [Fact]
    public async Task Partitioning_the_leader_elects_another_and_clear_heals()
    {
        var (old, others) = await LeaderAndFollowersAsync();
        string ids = string.Join(",", others.Select(o => o.NodeId));

        var cut = await RaftpsCli.RunAsync(With("fault", "--node", old.NodeId, "--partition", ids));
        Assert.True(cut.Code == ExitCodes.Success, cut.ToString());
        Assert.Equal($"fault {old.NodeId} ({fixture.EndpointOf(old.NodeId)}): cut off from {ids}", cut.OutLines.Single());
        // The node answers before it applies the faults (so a suspension cannot swallow the answer): wait a moment.
        await RaftpsCli.WaitUntilAsync(() => old.Faults.PartitionedFrom.Count > 0, Bound, "the partition to apply");
        Assert.Equal(others.Select(o => o.NodeId).Order(), old.Faults.PartitionedFrom.Select(n => fixture.Cluster.Cluster.Find(n)!.Id).Order());

        await RaftpsCli.WaitUntilAsync(() => others.Any(o => o.Status.Role == "Leader"), Bound, "the majority side to elect a leader");
        var next = others.Single(o => o.Status.Role == "Leader");
        // The majority side serves writes, and `status` names the new leader (the highest term wins over a stale claim).
        var put = await RaftpsCli.RunAsync(With("put", CliClusterFixture.UniquePrefix() + "p", "v"));
        Assert.True(put.Code == ExitCodes.Success, put.ToString());
        var status = await RaftpsCli.RunAsync(With("status", "--timeout", "1"));
        Assert.True(status.Code == ExitCodes.Success, status.ToString());
        Assert.Matches($"; leader {next.NodeId} in term \\d+$", status.OutLines[^1]);

        var clear = await RaftpsCli.RunAsync(With("fault", "--node", old.NodeId, "--clear"));
        Assert.True(clear.Code == ExitCodes.Success, clear.ToString());
        Assert.Equal($"fault {old.NodeId} ({fixture.EndpointOf(old.NodeId)}): cleared", clear.OutLines.Single());
        await RaftpsCli.WaitUntilAsync(() => old.Faults.IsNone, Bound, "the faults to clear");
        // Healed: the old leader follows the new one.
        await RaftpsCli.WaitUntilAsync(() => old.Status.Role == "Follower" && old.Status.Leader == next.Status.Leader && next.Status.Role == "Leader",
            Bound, "the old leader to rejoin as a follower");
    }

    [Fact]
    public async Task A_suspension_lifts_by_itself()
    {
        var (_, followers) = await LeaderAndFollowersAsync();
        var victim = followers[0];
        string name = fixture.Cluster.Cluster.ClusterName;
        var sw = Stopwatch.StartNew();
        var r = await RaftpsCli.RunAsync(With("fault", "--node", victim.NodeId, "--suspend-ms", "1500"));
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        Assert.EndsWith(": suspended for 1500 ms (resumes by itself)", r.OutLines.Single());

        // The node replies before it goes quiet; then it answers nobody, clients included.
        await RaftpsCli.WaitUntilAsync(() => victim.Faults.Suspended, TimeSpan.FromSeconds(1), "the suspension to start");
        var quiet = await RaftpsCli.RunAsync("status", "--endpoints", fixture.EndpointOf(victim.NodeId), "--cluster-name", name, "--timeout", "0.2");
        Assert.True(quiet.Code == ExitCodes.Unavailable, quiet.ToString());

        await RaftpsCli.WaitUntilAsync(() => !victim.Faults.Suspended, Bound, "the suspension to lift");
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(1400), $"lifted after {sw.ElapsedMilliseconds} ms");
        var back = await RaftpsCli.RunAsync("status", "--endpoints", fixture.EndpointOf(victim.NodeId), "--cluster-name", name, "--timeout", "1");
        Assert.True(back.Code == ExitCodes.Success, back.ToString());
        Assert.StartsWith("1 of 1 nodes reachable", back.OutLines[^1]);
    }

    [Fact]
    public async Task Drop_and_delay_by_endpoint_print_json_and_a_bad_peer_is_refused_by_the_node()
    {
        var (_, followers) = await LeaderAndFollowersAsync();
        var node = followers[0];
        string[] byEndpoint = ["fault", "--endpoint", fixture.EndpointOf(node.NodeId), "--cluster-name", fixture.Cluster.Cluster.ClusterName];

        var r = await RaftpsCli.RunAsync([.. byEndpoint, "--drop", "0.25", "--delay-ms", "3", "--json"]);
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        using (var doc = JsonDocument.Parse(r.Out))
        {
            var e = doc.RootElement;
            Assert.Equal(JsonValueKind.Null, e.GetProperty("node").ValueKind); // no cluster file: known by endpoint only
            Assert.Equal(fixture.EndpointOf(node.NodeId), e.GetProperty("endpoint").GetString());
            Assert.False(e.GetProperty("cleared").GetBoolean());
            Assert.Equal(0.25, e.GetProperty("dropRate").GetDouble());
            Assert.Equal(3, e.GetProperty("delayMs").GetInt32());
            Assert.Equal(0, e.GetProperty("partitionFrom").GetArrayLength());
            Assert.Equal(0, e.GetProperty("suspendMs").GetInt32());
        }
        await RaftpsCli.WaitUntilAsync(() => node.Faults.DropRate == 0.25, Bound, "the faults to apply");
        Assert.Equal(TimeSpan.FromMilliseconds(3), node.Faults.Delay);

        // With a cluster file the endpoint is named by its member id.
        var text = await RaftpsCli.RunAsync(With("fault", "--endpoint", fixture.EndpointOf(node.NodeId), "--drop", "0.125"));
        Assert.True(text.Code == ExitCodes.Success, text.ToString());
        Assert.Equal($"fault {node.NodeId} ({fixture.EndpointOf(node.NodeId)}): drop 12.5% of peer datagrams", text.OutLines.Single());
        await RaftpsCli.WaitUntilAsync(() => node.Faults.DropRate == 0.125, Bound, "the new faults to apply");
        Assert.Equal(TimeSpan.Zero, node.Faults.Delay); // each call replaces all faults

        // Without a cluster file partition ids cannot be checked here; the node refuses an unknown one.
        var bad = await RaftpsCli.RunAsync([.. byEndpoint, "--partition", "n9"]);
        Assert.True(bad.Code == ExitCodes.BadRequest, bad.ToString());
        Assert.Contains("'n9' is not a cluster member", bad.Err);
        Assert.Equal(0.125, node.Faults.DropRate); // the refused call changed nothing
    }

    [Fact]
    public async Task Transfer_moves_leadership_and_reports_the_time()
    {
        var (old, followers) = await LeaderAndFollowersAsync();
        var target = followers[0];

        var r = await RaftpsCli.RunAsync(With("transfer", target.NodeId));
        Assert.True(r.Code == ExitCodes.Success, r.ToString());
        Assert.Matches($"^leadership moved from {old.NodeId} to {target.NodeId} in \\d+ ms \\(term \\d+\\)$", r.OutLines.Single());
        var status = await RaftpsCli.RunAsync(With("status", "--timeout", "1"));
        Assert.Matches($"; leader {target.NodeId} in term \\d+$", status.OutLines[^1]);

        var again = await RaftpsCli.RunAsync(With("transfer", target.NodeId));
        Assert.True(again.Code == ExitCodes.Success, again.ToString());
        Assert.Matches($"^{target.NodeId} is already the leader \\(term \\d+\\)$", again.OutLines.Single());

        // Back again, by endpoints only (the nodes' member lists locate the target) and as JSON.
        await fixture.Cluster.WaitForLeaderAsync();
        string endpoints = string.Join(",", fixture.Cluster.Cluster.Members.Select(m => m.Endpoint));
        var back = await RaftpsCli.RunAsync("transfer", old.NodeId, "--endpoints", endpoints, "--cluster-name", fixture.Cluster.Cluster.ClusterName, "--json");
        Assert.True(back.Code == ExitCodes.Success, back.ToString());
        using var doc = JsonDocument.Parse(back.Out);
        Assert.Equal(old.NodeId, doc.RootElement.GetProperty("leader").GetString());
        Assert.Equal(target.NodeId, doc.RootElement.GetProperty("previousLeader").GetString());
        Assert.False(doc.RootElement.GetProperty("alreadyLeader").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("elapsedMs").GetInt64() >= 0);
        Assert.Equal("Leader", old.Status.Role);
    }

    [Fact]
    public async Task Transfer_to_a_non_member_is_refused_with_a_clear_message()
    {
        await LeaderAndFollowersAsync();
        var local = await RaftpsCli.RunAsync(With("transfer", "n9"));
        Assert.True(local.Code == ExitCodes.Usage, local.ToString());
        Assert.Contains("transfer target 'n9' is not a member of cluster", local.Err);
        Assert.Contains("(members: n1, n2, n3)", local.Err);

        string endpoints = string.Join(",", fixture.Cluster.Cluster.Members.Select(m => m.Endpoint));
        var byEndpoints = await RaftpsCli.RunAsync("transfer", "n9", "--endpoints", endpoints, "--cluster-name", fixture.Cluster.Cluster.ClusterName);
        Assert.True(byEndpoints.Code == ExitCodes.Usage, byEndpoints.ToString());
        Assert.Contains("'n9' is not a member of the cluster (members: n1, n2, n3)", byEndpoints.Err);

        // A cluster file that lists a member the nodes do not have passes the local check; the leader refuses.
        using var dir = new CliTempDir();
        string stale = dir.File("stale.json");
        fixture.Cluster.Cluster.WithMember(new ClusterMember("n4", "127.0.0.1", RaftpsCli.FreePort())).Save(stale);
        var refused = await RaftpsCli.RunAsync("transfer", "n4", "--cluster", stale, "--timeout", "3");
        Assert.True(refused.Code == ExitCodes.BadRequest, refused.ToString());
        Assert.Contains("'n4' is not a voting member", refused.Err);
        Assert.Equal("", refused.Out);
    }

    [Fact]
    public async Task Transfer_to_a_cut_off_member_times_out_with_exit_6()
    {
        var (leader, followers) = await LeaderAndFollowersAsync();
        var target = followers[0];
        string others = string.Join(",", fixture.Cluster.Cluster.Members.Where(m => m.Id != target.NodeId).Select(m => m.Id));
        var cut = await RaftpsCli.RunAsync(With("fault", "--node", target.NodeId, "--partition", others));
        Assert.True(cut.Code == ExitCodes.Success, cut.ToString());

        var sw = Stopwatch.StartNew();
        var r = await RaftpsCli.RunAsync(With("transfer", target.NodeId, "--timeout", "1"));
        Assert.True(r.Code == ExitCodes.Unavailable, r.ToString());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
        Assert.Contains($"leadership did not move to {target.NodeId} within 1 s", r.Err);
        Assert.Equal("", r.Out);
        Assert.Equal("Leader", leader.Status.Role);
    }

    [Fact]
    public async Task Fault_on_a_node_without_fault_injection_exits_9_and_the_node_flag_allows_it()
    {
        using var dir = new CliTempDir();
        var member = new ClusterMember("solo", "127.0.0.1", RaftpsCli.FreePort());
        string file = dir.File("cluster.json");
        new ClusterDefinition("drill-" + Guid.NewGuid().ToString("N")[..6], [member]).Save(file);
        string[] node = ["node", "--id", "solo", "--cluster", file, "--data", Path.Combine(dir.Path, "solo"), "--segment-mb", "1"];

        await using (var plain = new RunningNode(node))
        {
            await plain.WaitReadyAsync();
            var r = await RaftpsCli.RunAsync("fault", "--node", "solo", "--drop", "0.5", "--cluster", file);
            Assert.True(r.Code == ExitCodes.BadRequest, r.ToString());
            Assert.Contains("fault injection is disabled", r.Err);
            Assert.Contains("--allow-fault-injection", r.Err);
            Assert.Equal("", r.Out);
            var json = await RaftpsCli.RunAsync("fault", "--node", "solo", "--drop", "0.5", "--cluster", file, "--json");
            using var doc = JsonDocument.Parse(json.Err);
            Assert.Equal("RaftPS.BadRequest", doc.RootElement.GetProperty("error").GetString());
            Assert.Equal(ExitCodes.BadRequest, doc.RootElement.GetProperty("exitCode").GetInt32());
            Assert.Equal(ExitCodes.Success, await plain.StopAsync());
        }

        await using var drill = new RunningNode([.. node, "--allow-fault-injection"]);
        await drill.WaitReadyAsync();
        Assert.Contains("accepts fault injection", drill.Stderr);
        var ok = await RaftpsCli.RunAsync("fault", "--node", "solo", "--delay-ms", "5", "--cluster", file);
        Assert.True(ok.Code == ExitCodes.Success, ok + drill.Stderr);
        Assert.Equal($"fault solo ({member.Endpoint}): delay 5 ms", ok.OutLines.Single());
        Assert.Equal(ExitCodes.Success, await drill.StopAsync());
    }

    /// <summary>`raftps node` run in-process until cancelled (Ctrl+C).</summary>
    private sealed class RunningNode : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly StringWriter _out = new();
        private readonly StringWriter _err = new();
        private readonly Task<int> _exit;

        public RunningNode(string[] args)
        {
            var o = TextWriter.Synchronized(_out);
            var e = TextWriter.Synchronized(_err);
            _exit = Task.Run(() => RaftPS.Cli.Program.RunAsync(args, o, e, _stop.Token));
        }

        public string Stdout { get { lock (_out) return _out.ToString(); } }
        public string Stderr { get { lock (_err) return _err.ToString(); } }

        public async Task WaitReadyAsync()
        {
            await RaftpsCli.WaitUntilAsync(() => Stdout.Contains(" listening on ") || _exit.IsCompleted, TimeSpan.FromSeconds(20), "the ready line");
            Assert.False(_exit.IsCompleted, $"node exited early: {Stderr}");
        }

        public async Task<int> StopAsync()
        {
            _stop.Cancel();
            return await _exit.WaitAsync(TimeSpan.FromSeconds(20));
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            try { await _exit.WaitAsync(TimeSpan.FromSeconds(20)); } catch (Exception) { }
            _stop.Dispose();
        }
    }
}

/// <summary>Bad `fault` and `transfer` command lines: exit code 2 before anything is sent. No cluster needed.</summary>
public class DrillUsageTests : IDisposable
{
    private readonly CliTempDir _dir = new();
    private readonly string _cluster;

    public DrillUsageTests() =>
        _cluster = _dir.File("cluster.json", """{"cluster":"u","members":[{"id":"n1","host":"127.0.0.1","port":7001},{"id":"n2","host":"127.0.0.1","port":7002}]}""");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string[], string> Cases => new()
    {
        // name, arguments ("{cluster}" substituted), text stderr must contain
        { "no node", ["fault", "--cluster", "{cluster}", "--drop", "0.1"], "--node ID" },
        { "node and endpoint", ["fault", "--cluster", "{cluster}", "--node", "n1", "--endpoint", "127.0.0.1:7001", "--drop", "0.1"], "not both" },
        { "nothing to inject", ["fault", "--cluster", "{cluster}", "--node", "n1"], "say what to inject" },
        { "clear with others", ["fault", "--cluster", "{cluster}", "--node", "n1", "--clear", "--partition", "n2", "--drop", "0"], "--clear cannot be combined with --drop, --partition" },
        { "drop above 1", ["fault", "--cluster", "{cluster}", "--node", "n1", "--drop", "1.5"], "--drop must be a fraction from 0 to 1, got 1.5" },
        { "drop negative", ["fault", "--cluster", "{cluster}", "--node", "n1", "--drop", "-0.1"], "--drop must be a fraction from 0 to 1" },
        { "drop NaN", ["fault", "--cluster", "{cluster}", "--node", "n1", "--drop", "NaN"], "--drop must be a fraction from 0 to 1" },
        { "drop not a number", ["fault", "--cluster", "{cluster}", "--node", "n1", "--drop", "lots"], "lots" },
        { "delay negative", ["fault", "--cluster", "{cluster}", "--node", "n1", "--delay-ms", "-1"], "--delay-ms must be from 0" },
        { "suspend negative", ["fault", "--cluster", "{cluster}", "--node", "n1", "--suspend-ms", "-5"], "--suspend-ms must be from 0" },
        { "suspend too long", ["fault", "--cluster", "{cluster}", "--node", "n1", "--suspend-ms", "3600001"], "--suspend-ms must be from 0 to 3600000" },
        { "node not a member", ["fault", "--cluster", "{cluster}", "--node", "n9", "--drop", "0.1"], "--node 'n9' is not a member of cluster 'u'" },
        { "node not an id", ["fault", "--cluster", "{cluster}", "--node", "n 1", "--drop", "0.1"], "is not a member id" },
        { "partition not a member", ["fault", "--cluster", "{cluster}", "--node", "n1", "--partition", "n2,n9"], "--partition 'n9' is not a member of cluster 'u'" },
        { "partition itself", ["fault", "--cluster", "{cluster}", "--node", "n1", "--partition", "N1"], "cannot be cut off from itself" },
        { "partition empty", ["fault", "--cluster", "{cluster}", "--node", "n1", "--partition", ","], "--partition needs at least one member id" },
        { "node without cluster file", ["fault", "--endpoints", "127.0.0.1:7001", "--node", "n1", "--drop", "0.1"], "--node needs --cluster FILE" },
        { "endpoint not host:port", ["fault", "--endpoint", "nowhere", "--drop", "0.1"], "not host:port" },
        { "fault without cluster", ["fault", "--node", "n1", "--drop", "0.1"], "--cluster FILE or --endpoints" },
        { "transfer without target", ["transfer", "--cluster", "{cluster}"], "NODE" },
        { "transfer to a non-member", ["transfer", "n9", "--cluster", "{cluster}"], "transfer target 'n9' is not a member of cluster 'u'" },
        { "transfer to a non-id", ["transfer", "a/b", "--cluster", "{cluster}"], "'a/b' is not a member id" },
        { "transfer without cluster", ["transfer", "n1"], "--cluster FILE or --endpoints" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_usage_exits_2_with_a_message(string name, string[] args, string expected)
    {
        var r = await RaftpsCli.RunAsync(args.Select(a => a.Replace("{cluster}", _cluster)).ToArray());
        Assert.True(r.Code == ExitCodes.Usage, $"{name}: {r}");
        Assert.True(r.Err.Contains(expected, StringComparison.Ordinal), $"{name}: stderr lacks '{expected}': {r}");
        Assert.StartsWith("error: ", r.Err);
        Assert.Equal("", r.Out);
    }

    [Theory]
    [InlineData("node", "--allow-fault-injection")]
    [InlineData("fault", "--partition")]
    [InlineData("fault", "--suspend-ms")]
    [InlineData("fault", "--endpoint")]
    [InlineData("transfer", "--timeout")]
    public async Task Command_help_lists_its_options(string command, string option)
    {
        var r = await RaftpsCli.RunAsync(command, "--help");
        Assert.Equal(ExitCodes.Success, r.Code);
        Assert.Contains(option, r.Out);
    }

    [Fact]
    public async Task Root_help_lists_the_drill_commands()
    {
        var r = await RaftpsCli.RunAsync("--help");
        Assert.Equal(ExitCodes.Success, r.Code);
        Assert.Matches("(?m)^  fault\\b", r.Out);
        Assert.Matches("(?m)^  transfer <NODE>", r.Out);
        Assert.Contains("failure drills", r.Out);
    }

    [Theory]
    [InlineData(0.2, 20, "n2,n3", 2000, "drop 20% of peer datagrams, delay 20 ms, cut off from n2,n3, suspended for 2000 ms (resumes by itself)")]
    [InlineData(1.0, 0, "", 0, "drop 100% of peer datagrams")]
    [InlineData(0, 0, "", 0, "no faults")]
    [InlineData(0, 0, "n2", 0, "cut off from n2")]
    public void Faults_are_described_for_people(double drop, int delay, string partition, int suspend, string expected)
    {
        var spec = new FaultSpec
        {
            DropRate = drop, DelayMs = delay, SuspendMs = suspend,
            PartitionFrom = partition.Split(',', StringSplitOptions.RemoveEmptyEntries),
        };
        Assert.Equal(expected, Output.DescribeFaults(spec));
    }
}
