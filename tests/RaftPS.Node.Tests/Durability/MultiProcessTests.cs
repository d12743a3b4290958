using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using RaftPS.Client;
using RaftPS.Node.Storage;
using RaftPS.Protocol;
using RaftPS.History;
using Xunit.Abstractions;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// Real `raftps node` processes on 127.0.0.1, killed with SIGKILL (kill -9) while clients write and read: no
/// acknowledged write may be lost and the recorded client history must be linearizable. Also the process-level
/// contract for WAL damage: a torn tail is repaired on start, damage in the middle exits with code 3 naming the file.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class MultiProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private const int Workers = 4;
    private const int RegisterKeys = 6;

    [Fact]
    public async Task Kill_9_of_leaders_and_followers_loses_no_acknowledged_write_and_the_history_is_linearizable()
    {
        await using var pc = ProcessCluster.Create(3);
        await Task.WhenAll(pc.Cluster.Members.Select(m => pc.StartAsync(m.Id)));
        using var probe = new KvTestClient(pc.Cluster);
        await LeaderAsync(pc, probe);

        var clock = Stopwatch.StartNew();
        var history = new ConcurrentQueue<KvOperation>();
        var ledger = new ConcurrentDictionary<string, string>(); // acknowledged writes of keys written exactly once
        var failures = new ConcurrentQueue<string>();
        var acks = new AckCounter();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Workers)
            .Select(c => Task.Run(() => WorkerAsync(pc.Cluster, c, clock, history, ledger, failures, acks, stop.Token)))
            .ToArray();
        var log = new List<string>();
        try
        {
            string? previous = null;
            for (int round = 0; round < 6; round++)
            {
                await AcksAsync(acks, 80, pc);
                string leader = await LeaderAsync(pc, probe);
                // Alternate leader and follower; spread the follower kills over both followers.
                string victim = round % 2 == 0 ? leader : pc.Cluster.Members.Select(m => m.Id).First(id => id != leader && id != previous);
                previous = victim;
                log.Add($"round {round}: kill -9 {victim} ({(victim == leader ? "leader" : "follower")}, pid {pc.Nodes[victim]!.Pid})");
                pc.Kill(victim);
                await AcksAsync(acks, 20, pc); // two of three keep serving (after an election if the leader died)
                var restarted = await pc.StartAsync(victim);
                log.Add($"round {round}: restarted {victim} as pid {restarted.Pid}");
                await CaughtUpAsync(pc, probe, victim);
            }
            await AcksAsync(acks, 20, pc);
        }
        finally
        {
            stop.Cancel();
            // Every operation is bounded by the client deadline, so the workers end promptly.
            await Task.WhenAny(Task.WhenAll(workers), Task.Delay(Deadline));
        }
        Assert.True(workers.All(w => w.IsCompletedSuccessfully), "a worker failed or hung: " + string.Join("; ", workers.Where(w => w.IsFaulted).Select(w => w.Exception!.GetBaseException().Message)));
        Assert.True(failures.IsEmpty, "unexpected client errors: " + string.Join("; ", failures.Take(5)));
        foreach (var (id, p) in pc.Nodes) Assert.False(p!.HasExited, $"{id} exited:\n{p.Output}");

        // Every replica holds every acknowledged write once the cluster is quiet.
        var statuses = await SettledAsync(pc, probe);
        foreach (var m in pc.Cluster.Members)
        {
            foreach (var (key, value) in ledger)
            {
                var reply = Replies.Require(probe.StaleGet(m.ResolveEndPoint(), key, TimeSpan.FromSeconds(5)), $"stale get {key} on {m.Id}");
                Assert.True(Replies.ValueOf(reply, key) == value, $"{m.Id} lost acknowledged write {key}={value} (statuses: {statuses})\n{string.Join("\n", log)}");
            }
        }

        // Replicas cannot drift: after six kill -9 rounds every one hashes the same state at one checkpoint.
        await using (var admin = RaftClient.Create(pc.Cluster, new RaftClientOptions { Deadline = Deadline }))
        {
            var check = await admin.VerifyReplicasAsync(TimeSpan.FromSeconds(30));
            Assert.True(check.Complete, "replica digests: " + string.Join("; ", check.Replicas.Select(r => $"{r.Id} {r.State} {r.Detail}")));
            output.WriteLine($"replicas agree at checkpoint {check.Index}: {check.Digest}");
        }

        // Final linearizable reads close the history: the last value of each register must be explainable.
        await using (var reader = RaftClient.Create(pc.Cluster, new RaftClientOptions { Deadline = Deadline }))
        {
            foreach (var key in Enumerable.Range(0, RegisterKeys).Select(RegisterKey).Concat(ledger.Keys))
            {
                long call = clock.ElapsedTicks;
                var item = await reader.TryGetAsync(key);
                string? value = item is null ? null : Encoding.UTF8.GetString(item.Value);
                history.Enqueue(new KvOperation(Workers, KvOpKind.Get, key, null, value, call, clock.ElapsedTicks, true));
                if (ledger.TryGetValue(key, out var acked)) Assert.Equal(acked, value);
            }
        }

        var ops = history.ToArray();
        int unknown = ops.Count(o => !o.Completed);
        foreach (var line in log) output.WriteLine(line);
        output.WriteLine($"{ops.Length} ops ({ops.Count(o => o.Kind == KvOpKind.Put)} puts, {unknown} of unknown outcome), {ledger.Count} acknowledged ledger writes; {statuses}");
        Assert.True(ledger.Count >= 20 && ops.Length >= 200, $"too little traffic to mean anything: {ops.Length} ops, {ledger.Count} ledger writes");
        var result = LinearizabilityChecker.Check(ops, TimeSpan.FromSeconds(60));
        Assert.False(result.TimedOut, $"checker gave no verdict ({ops.Length} ops, {unknown} unknown): {result.Explanation}");
        output.WriteLine(result.Explanation);
        Assert.True(result.IsLinearizable, $"not linearizable on '{result.Key}' ({ops.Length} ops, {unknown} unknown): {result.Explanation}\n{string.Join("\n", log)}");
    }

    [Fact]
    public async Task Raftps_node_repairs_a_torn_tail_after_kill_9_and_exits_with_3_naming_the_file_on_damage_inside_the_log()
    {
        await using var pc = ProcessCluster.Create(3);
        await Task.WhenAll(pc.Cluster.Members.Select(m => pc.StartAsync(m.Id)));
        using var client = new KvTestClient(pc.Cluster);
        var latest = new Dictionary<string, string?>();
        RestartTests.WriteRounds(client, latest, rounds: 3, keys: 10, tag: "proc");
        string leader = await LeaderAsync(pc, client);
        string victim = pc.Cluster.Members.Select(m => m.Id).First(id => id != leader);
        await CaughtUpAsync(pc, client, victim);
        pc.Kill(victim);

        // Torn tail: the file ends in the middle of a record that was being written when the process died.
        string segment = WalFiles.Segments(pc.DataDir(victim)).Last();
        long tornAt = WalFiles.AppendTornEntry(segment);
        var p = await pc.StartAsync(victim);
        Assert.Contains(p.Output.Split('\n'), l => l.Contains("torn", StringComparison.OrdinalIgnoreCase)
            && l.Contains(Path.GetFileName(segment), StringComparison.Ordinal) && l.Contains(tornAt.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        await CaughtUpAsync(pc, client, victim);
        var victimEndpoint = pc.Cluster.Find(victim)!.ResolveEndPoint();
        foreach (var (key, value) in latest)
            Assert.Equal(value, Replies.ValueOf(Replies.Require(client.StaleGet(victimEndpoint, key, TimeSpan.FromSeconds(5)), "stale get " + key), key));

        // Damage with valid records after it: the process refuses to start, exit code 3, and says which file.
        pc.Kill(victim);
        segment = WalFiles.Segments(pc.DataDir(victim)).Last();
        var entries = WalFiles.Records(segment).Where(r => r.Type == RecordType.Entry).ToList();
        Assert.True(entries.Count >= 3, $"only {entries.Count} entries in {segment}");
        var hit = entries[entries.Count / 2];
        WalFiles.FlipByte(segment, hit.Offset + WalFormat.HeaderSize + (hit.Length - WalFormat.HeaderSize) / 2);
        using (var broken = RaftpsProcess.StartNode(victim, pc.ClusterFile, pc.DataDir(victim)))
        {
            int code = await broken.WaitForExitAsync(Deadline);
            Assert.True(code == 3, $"exit code {code}, expected 3 (storage corruption):\n{broken.Output}");
            Assert.Contains(Path.GetFileName(segment), broken.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("listening on", broken.Output, StringComparison.Ordinal);
        }
        // The two others still serve.
        Assert.Equal(ReplyStatus.Ok, Replies.Require(client.Put("after-damage", "1", Deadline), "put with one node refusing to start").Status);
    }

    // ------------------------------------------------------------------ workload

    private static string RegisterKey(int i) => $"reg/{i}";

    /// <summary>
    /// One logical client: puts unique values to a few shared registers, reads them linearizably, and writes keys of its
    /// own exactly once (the ledger). A write that times out is recorded as of unknown outcome; one the client reports
    /// as unavailable is known not to have happened and is left out; failed reads carry no information.
    /// </summary>
    private static async Task WorkerAsync(ClusterDefinition cluster, int id, Stopwatch clock, ConcurrentQueue<KvOperation> history,
        ConcurrentDictionary<string, string> ledger, ConcurrentQueue<string> failures, AckCounter acks, CancellationToken stop)
    {
        await using var client = RaftClient.Create(cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(2), AttemptTimeout = TimeSpan.FromMilliseconds(200) });
        var random = new Random(1000 + id);
        for (int n = 0; n < 1_000_000 && !stop.IsCancellationRequested; n++)
        {
            double p = random.NextDouble();
            if (p < 0.65)
            {
                bool once = p >= 0.5;
                string key = once ? $"ledger/c{id}-{n}" : RegisterKey(random.Next(RegisterKeys));
                string value = $"c{id}-{n}";
                long call = clock.ElapsedTicks;
                try
                {
                    await client.PutAsync(key, value);
                    history.Enqueue(new KvOperation(id, KvOpKind.Put, key, value, null, call, clock.ElapsedTicks, true));
                    if (once) ledger[key] = value;
                    Interlocked.Increment(ref acks.Value);
                }
                catch (RaftTimeoutException)
                {
                    history.Enqueue(new KvOperation(id, KvOpKind.Put, key, value, null, call, long.MaxValue, false));
                }
                catch (RaftUnavailableException)
                {
                }
                catch (RaftClientException e)
                {
                    failures.Enqueue($"put {key}: {e.GetType().Name}: {e.Message}");
                }
            }
            else
            {
                string key = RegisterKey(random.Next(RegisterKeys));
                long call = clock.ElapsedTicks;
                try
                {
                    var item = await client.TryGetAsync(key);
                    history.Enqueue(new KvOperation(id, KvOpKind.Get, key, null, item is null ? null : Encoding.UTF8.GetString(item.Value), call, clock.ElapsedTicks, true));
                }
                catch (RaftClientException e) when (e is RaftTimeoutException or RaftUnavailableException)
                {
                }
                catch (RaftClientException e)
                {
                    failures.Enqueue($"get {key}: {e.GetType().Name}: {e.Message}");
                }
            }
            // Leave the two CPUs some room for the nodes.
            if (random.Next(4) == 0) await Task.Delay(1);
        }
    }

    private sealed class AckCounter
    {
        public long Value;
    }

    // ------------------------------------------------------------------ cluster observation

    private static async Task AcksAsync(AckCounter acks, int more, ProcessCluster pc)
    {
        long target = Interlocked.Read(ref acks.Value) + more;
        await Wait.UntilAsync(() => Interlocked.Read(ref acks.Value) >= target, Deadline,
            () => $"the cluster stopped acknowledging writes ({Interlocked.Read(ref acks.Value)} < {target}); " +
                  string.Join("; ", pc.Nodes.Select(kv => $"{kv.Key}: {(kv.Value!.HasExited ? "exited" : "running")}")));
    }

    private static async Task<string> LeaderAsync(ProcessCluster pc, KvTestClient probe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (DateTime.UtcNow < deadline)
        {
            var leader = pc.Cluster.Members
                .Where(m => pc.Nodes.GetValueOrDefault(m.Id) is { HasExited: false })
                .Select(m => probe.Status(m.ResolveEndPoint(), TimeSpan.FromMilliseconds(300)))
                .Where(s => s is { Role: "Leader" })
                .MaxBy(s => s!.Term);
            if (leader is not null) return leader.Id;
            await Task.Delay(50);
        }
        Assert.Fail("no leader: " + string.Join("; ", pc.Nodes.Select(kv => $"{kv.Key}: {kv.Value?.Output}")));
        return "";
    }

    /// <summary>Waits until <paramref name="id"/> has applied everything the leader had committed when the wait began.</summary>
    private static async Task CaughtUpAsync(ProcessCluster pc, KvTestClient probe, string id)
    {
        string leader = await LeaderAsync(pc, probe);
        var target = probe.Status(pc.Cluster.Find(leader)!.ResolveEndPoint(), TimeSpan.FromSeconds(2))?.CommitIndex ?? 0;
        var endpoint = pc.Cluster.Find(id)!.ResolveEndPoint();
        NodeStatus? s = null;
        await Wait.UntilAsync(() => (s = probe.Status(endpoint, TimeSpan.FromMilliseconds(300))) is { } st && st.AppliedIndex >= target, Deadline,
            () => $"{id} did not catch up to {target}: {Describe([s])}; leader {leader}: {Describe([probe.Status(pc.Cluster.Find(leader)!.ResolveEndPoint(), TimeSpan.FromSeconds(1))])}\n" +
                  string.Join("\n", pc.Nodes.Select(kv => $"--- {kv.Key}:\n{Tail(kv.Value?.Output, 30)}")));
    }

    /// <summary>Waits until all nodes report the same last, commit and applied index.</summary>
    private static async Task<string> SettledAsync(ProcessCluster pc, KvTestClient probe)
    {
        NodeStatus?[] s = [];
        await Wait.UntilAsync(() =>
        {
            s = pc.Cluster.Members.Select(m => probe.Status(m.ResolveEndPoint(), TimeSpan.FromMilliseconds(500))).ToArray();
            return s.All(x => x is not null && x.LastIndex == s[0]!.LastIndex && x.CommitIndex == x.LastIndex && x.AppliedIndex == x.LastIndex);
        }, Deadline, () => Describe(s));
        return Describe(s);
    }

    private static string Tail(string? text, int lines) => text is null ? "" : string.Join("\n", text.Split('\n').TakeLast(lines));

    private static string Describe(IEnumerable<NodeStatus?> statuses) =>
        string.Join(", ", statuses.Select(x => x is null ? "?" : $"{x.Id} {x.Role} t{x.Term} last {x.LastIndex} commit {x.CommitIndex} applied {x.AppliedIndex}"));
}
