using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using RaftPS.Bench;
using RaftPS.Client;
using RaftPS.Protocol;

return await BenchProgram.RunAsync(args).ConfigureAwait(false);

namespace RaftPS.Bench
{
    internal static class BenchProgram
    {
        private const int PreloadClients = 128;

        public static async Task<int> RunAsync(string[] args)
        {
            BenchOptions options;
            try
            {
                options = BenchOptions.Parse(args);
            }
            catch (BenchUsageException e)
            {
                Console.Error.WriteLine($"bench: {e.Message}");
                Console.Error.WriteLine(BenchOptions.Usage);
                return 2;
            }
            return options.Key ? await RunKeyedComparisonAsync(options).ConfigureAwait(false) : await RunOnceAsync(options).ConfigureAwait(false);
        }

        /// <summary>
        /// `--key`: the same load against a fresh keyless cluster and then a fresh cluster whose nodes hold peer and
        /// client secrets (every datagram AES-GCM sealed), one JSON object with both results and their ratio.
        /// </summary>
        private static async Task<int> RunKeyedComparisonAsync(BenchOptions options)
        {
            var keyDir = Directory.CreateTempSubdirectory("raftps-bench-keys-").FullName;
            try
            {
                string peerFile = Path.Combine(keyDir, "peer.key"), clientFile = Path.Combine(keyDir, "client.key");
                string clientSecret = ClusterCredentials.GenerateSecret();
                await File.WriteAllTextAsync(peerFile, ClusterCredentials.GenerateSecret() + "\n").ConfigureAwait(false);
                await File.WriteAllTextAsync(clientFile, clientSecret + "\n").ConfigureAwait(false);
                var results = new List<string>();
                foreach (var pass in new[]
                         {
                             options with { Key = false },
                             options with { Key = false, ClusterKey = clientSecret, NodeArgs = [.. options.NodeArgs, "--peer-key-file", peerFile, "--client-key-file", clientFile] },
                         })
                {
                    Log(pass.ClusterKey is null ? "pass 1: keyless" : "pass 2: encrypted (peer + client secrets)");
                    var writer = new StringWriter();
                    var stdout = Console.Out;
                    Console.SetOut(writer);
                    int rc;
                    try
                    {
                        rc = await RunOnceAsync(pass).ConfigureAwait(false);
                    }
                    finally
                    {
                        Console.SetOut(stdout);
                    }
                    if (rc != 0) return rc;
                    results.Add(writer.ToString().Trim().Split('\n')[^1]);
                }
                var keyless = System.Text.Json.Nodes.JsonNode.Parse(results[0])!;
                var encrypted = System.Text.Json.Nodes.JsonNode.Parse(results[1])!;
                double ratio = encrypted["ops_per_s"]!.GetValue<double>() / Math.Max(1e-9, keyless["ops_per_s"]!.GetValue<double>());
                var combined = new System.Text.Json.Nodes.JsonObject
                {
                    ["keyless"] = keyless,
                    ["encrypted"] = encrypted,
                    ["encrypted_vs_keyless_ops"] = Math.Round(ratio, 3),
                };
                Console.Out.WriteLine(combined.ToJsonString());
                return 0;
            }
            finally
            {
                Directory.Delete(keyDir, recursive: true);
            }
        }

        private static async Task<int> RunOnceAsync(BenchOptions options)
        {

            using var cts = new CancellationTokenSource();
            // Ctrl+C / SIGTERM cancel the run instead of killing the process, so the finally below kills the nodes.
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
            LocalCluster? cluster = null;
            double? hostLoad = HostLoad();
            try
            {
                if (!options.External)
                {
                    // The catch-up bench reads the leader's stream report from its log.
                    if (options.Mode == BenchMode.SnapshotCatchup && !options.NodeArgs.Contains("--log-level"))
                        options = options with { NodeArgs = [.. options.NodeArgs, "--log-level", "info"] };
                    Log($"starting {options.Nodes} raftps nodes (fsync {(options.Fsync ? "on" : "off")})...");
                    cluster = await LocalCluster.StartAsync(options, options.Nodes, cts.Token).ConfigureAwait(false);
                    Log($"cluster up in {cluster.Directory}: {cluster.Cluster}");
                }
                if (options.Mode == BenchMode.SnapshotCatchup)
                {
                    var caught = await SnapshotCatchupBench.RunAsync(options, cluster!, cts.Token).ConfigureAwait(false);
                    Console.Out.WriteLine(JsonSerializer.Serialize(caught, BenchJsonContext.Default.SnapshotCatchupResult));
                    return 0;
                }
                if (options.Mode == BenchMode.AddMembers)
                {
                    var added = await AddMembersBench.RunAsync(options, cluster!, cts.Token).ConfigureAwait(false);
                    Log($"both new members voters after {added.BothVotersMs} ms (log index {added.LogIndex})");
                    Console.Out.WriteLine(JsonSerializer.Serialize(added, BenchJsonContext.Default.AddMembersResult));
                    return 0;
                }
                var result = await RunBenchAsync(options, cluster, cts.Token).ConfigureAwait(false) with { HostLoad = hostLoad };
                if (cluster?.UnexpectedExits().ToArray() is { Length: > 0 } crashed)
                {
                    foreach (var n in crashed) Log($"node {n.Member.Id} exited unexpectedly during the run:\n{n.Tail()}");
                    Console.Out.WriteLine(JsonSerializer.Serialize(result, BenchJsonContext.Default.BenchResult));
                    return 3;
                }
                Console.Out.WriteLine(JsonSerializer.Serialize(result, BenchJsonContext.Default.BenchResult));
                return 0;
            }
            catch (OperationCanceledException) when (cts.IsCancellationRequested)
            {
                Log("interrupted; stopping nodes");
                return 130;
            }
            catch (Exception e) when (e is ClusterStartException or RaftClientException or BenchDataException)
            {
                Log($"failed: {e.Message}");
                if (cluster is not null)
                    foreach (var n in cluster.Nodes.Where(n => n.HasExited && !n.KilledByUs)) Log($"node {n.Member.Id} exited:\n{n.Tail()}");
                return 1;
            }
            finally
            {
                if (cluster is not null) await cluster.DisposeAsync().ConfigureAwait(false);
            }
        }

        private static async Task<BenchResult> RunBenchAsync(BenchOptions o, LocalCluster? cluster, CancellationToken ct)
        {
            var baseOptions = cluster is not null
                ? RaftClientOptions.For(cluster.Cluster) with { ClusterKey = o.ClusterKey ?? cluster.Cluster.Key }
                : new RaftClientOptions { Endpoints = o.Endpoints!, ClusterName = o.ClusterName, ClusterKey = o.ClusterKey };
            int nodes = cluster?.Nodes.Count ?? o.Endpoints!.Count;
            int perInstance = (o.Clients + o.ClientInstances - 1) / o.ClientInstances;
            var loadOptions = baseOptions with
            {
                AttemptTimeout = o.AttemptTimeout,
                // One session lane per concurrent writer, so writers never queue inside the client.
                MaxSessions = Math.Max(Math.Max(64, perInstance), PreloadClients),
            };

            var pool = new List<RaftClient>();
            // The control client only looks up the leader and statuses; its short attempts keep that snappy.
            await using var control = new RaftClient(baseOptions with { AttemptTimeout = TimeSpan.FromMilliseconds(100), Deadline = TimeSpan.FromSeconds(20) });
            try
            {
                for (int i = 0; i < o.ClientInstances; i++)
                {
                    // Stale reads go to the preferred node (else the leader): spread the instances over the nodes so
                    // stale reads scale out the way they are meant to.
                    var endpoints = loadOptions.Endpoints;
                    pool.Add(new RaftClient(o.Mode == BenchMode.GetStale && o.ClientInstances > 1
                        ? loadOptions with { PreferredEndpoint = endpoints[i % endpoints.Count] }
                        : loadOptions));
                }

                var sw = Stopwatch.StartNew();
                var leader = await control.LeaderAsync(ct).ConfigureAwait(false);
                Log($"leader at {leader} after {sw.ElapsedMilliseconds} ms");

                var keys = new string[o.Keys];
                for (int i = 0; i < keys.Length; i++) keys[i] = string.Create(CultureInfo.InvariantCulture, $"k{i:D8}");
                var value = new byte[o.ValueSize];
                new Random(42).NextBytes(value);
                BenchOperation sequentialPut = (c, i, _) => c.PutAsync(keys[i % keys.Length], value);
                var operation = OperationFor(o.Mode, keys, value);

                if (o.LogEntries > 0)
                    await PreloadAsync("preload-log", o.LogEntries, pool, sequentialPut, ct).ConfigureAwait(false);
                if (o.Mode is BenchMode.Get or BenchMode.GetStale && o.LogEntries < o.Keys)
                    await PreloadAsync("preload-keys", o.Keys, pool, sequentialPut, ct).ConfigureAwait(false);

                if (o.Warmup > 0)
                {
                    var warm = await new LoadPhase("warmup", o.Warmup, o.Clients).RunAsync(pool, operation, progress: true, ct).ConfigureAwait(false);
                    ct.ThrowIfCancellationRequested();
                    Log(Summary(warm));
                }

                leader = await control.LeaderAsync(ct).ConfigureAwait(false);
                var startStatus = await control.StatusAsync(leader, ct).ConfigureAwait(false);
                ulong? logIndex = startStatus.LastIndex;

                var leaderNode = cluster?.NodeAt(leader);
                var cpu0 = CpuSnapshot.Take(cluster, leaderNode);
                var (sent0, received0, dropped0) = Datagrams(pool);
                var phase = new LoadPhase("measure", o.Ops, o.Clients);
                Task<FailoverObservation>? killer = null;
                using var stopKiller = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var run = phase.RunAsync(pool, operation, progress: true, ct);
                if (o.Mode == BenchMode.Failover)
                    killer = KillLeaderAsync(phase, run, o.KillAfter ?? o.Ops / 4, cluster!, control, baseOptions, stopKiller.Token);
                var measured = await run.ConfigureAwait(false);
                var cpu1 = CpuSnapshot.Take(cluster, leaderNode);
                stopKiller.Cancel();
                FailoverObservation? failover = killer is null ? null : await killer.ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
                // Elections during the phase (other load starving a node's heartbeats, or the failover kill) explain stalls.
                var endStatus = await control.StatusAsync(await control.LeaderAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
                ulong termChanges = endStatus.Term - startStatus.Term;
                if (termChanges > 0 && o.Mode != BenchMode.Failover)
                    Log($"warning: leadership changed during the measured phase (term {startStatus.Term} -> {endStatus.Term}, leader {startStatus.Id} -> {endStatus.Id})");
                Log(Summary(measured));
                foreach (var s in measured.ErrorSamples) Log($"  error: {s}");

                var lat = measured.SortedLatenciesMs();
                var (sent, received, dropped) = Datagrams(pool);
                var result = new BenchResult
                {
                    Mode = BenchOptions.ModeName(o.Mode),
                    Nodes = nodes,
                    Clients = phase.Clients,
                    ClientInstances = pool.Count,
                    Ops = o.Ops,
                    OkOps = measured.Succeeded,
                    ValueSize = o.ValueSize,
                    Keys = o.Keys,
                    Warmup = o.Warmup,
                    LogEntries = o.LogEntries,
                    LogIndex = logIndex,
                    Seconds = Round(measured.Seconds),
                    OpsPerSecond = Round(measured.OpsPerSecond, 1),
                    MeanMs = Round(lat.Length > 0 ? lat.Average() : 0),
                    P50Ms = Round(PhaseResult.Percentile(lat, 0.50)),
                    P90Ms = Round(PhaseResult.Percentile(lat, 0.90)),
                    P99Ms = Round(PhaseResult.Percentile(lat, 0.99)),
                    P999Ms = Round(PhaseResult.Percentile(lat, 0.999)),
                    MaxMs = Round(lat.Length > 0 ? lat[^1] : 0),
                    Errors = measured.Errors,
                    TermChanges = termChanges,
                    CpuUsPerOpClient = PerOp(cpu1.Client - cpu0.Client, measured.Completed),
                    CpuUsPerOpLeader = cpu0.Leader is { } l0 && cpu1.Leader is { } l1 ? PerOp(l1 - l0, measured.Completed) : null,
                    CpuUsPerOpFollowers = cpu0.Others is { } o0 && cpu1.Others is { } o1 ? PerOp(o1 - o0, measured.Completed) : null,
                    CpuCoresUsed = cpu0.Total is { } t0 && cpu1.Total is { } t1 && measured.Seconds > 0 ? Round((t1 - t0).TotalSeconds / measured.Seconds, 2) : null,
                    Fsync = o.Fsync,
                    AttemptTimeoutMs = o.AttemptTimeout.TotalMilliseconds,
                    DatagramsSent = sent - sent0,
                    DatagramsReceived = received - received0,
                    DatagramsDropped = dropped - dropped0,
                    Date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                };
                if (failover is not null)
                {
                    result = result with
                    {
                        KilledNode = failover.Node,
                        FailoverMs = measured.FirstSuccessStartedAfterMs(failover.KilledAt) is { } f ? Round(f) : null,
                        ElectionMs = failover.ElectedAt is { } e ? Round(Stopwatch.GetElapsedTime(failover.KilledAt, e).TotalMilliseconds) : null,
                        WriteGapMs = Round(measured.LongestGapAfterMs(failover.KilledAt)),
                    };
                    Log($"failover: killed {failover.Node}; new leader {failover.NewLeader ?? "not seen"} after {result.ElectionMs?.ToString(CultureInfo.InvariantCulture) ?? "?"} ms; " +
                        $"first write issued after the kill committed after {result.FailoverMs?.ToString(CultureInfo.InvariantCulture) ?? "never"} ms; longest write gap {result.WriteGapMs} ms");
                }
                return result;
            }
            finally
            {
                foreach (var c in pool) await c.DisposeAsync().ConfigureAwait(false);
            }
        }

        private static double? PerOp(TimeSpan cpu, long ops) => ops > 0 ? Round(cpu.TotalMicroseconds / ops, 1) : null;

        /// <summary>CPU used so far by this process, the leader node and the other nodes (null: not observable).</summary>
        private sealed record CpuSnapshot(TimeSpan Client, TimeSpan? Leader, TimeSpan? Others)
        {
            public TimeSpan? Total => Leader is { } l && Others is { } o ? Client + l + o : null;

            public static CpuSnapshot Take(LocalCluster? cluster, NodeProcess? leader)
            {
                using var self = Process.GetCurrentProcess();
                var client = self.TotalProcessorTime;
                if (cluster is null || leader is null) return new CpuSnapshot(client, null, null);
                TimeSpan? others = TimeSpan.Zero;
                foreach (var n in cluster.Nodes)
                    if (n != leader) others = n.CpuTime() is { } t && others is { } sum ? sum + t : null;
                return new CpuSnapshot(client, leader.CpuTime(), others);
            }
        }

        private static (long Sent, long Received, long Dropped) Datagrams(IEnumerable<RaftClient> pool)
        {
            long sent = 0, received = 0, dropped = 0;
            foreach (var c in pool)
            {
                sent += c.Counters.DatagramsSent;
                received += c.Counters.DatagramsReceived;
                dropped += c.Counters.DroppedTotal;
            }
            return (sent, received, dropped);
        }

        private static BenchOperation OperationFor(BenchMode mode, string[] keys, byte[] value) => mode switch
        {
            BenchMode.Put or BenchMode.Failover => (c, _, r) => c.PutAsync(keys[r.Next(keys.Length)], value),
            BenchMode.Get => (c, _, r) => GetAsync(c, keys[r.Next(keys.Length)], ReadConsistency.Linearizable),
            BenchMode.GetStale => (c, _, r) => GetAsync(c, keys[r.Next(keys.Length)], ReadConsistency.Stale),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };

        private static async Task GetAsync(RaftClient client, string key, ReadConsistency consistency)
        {
            // Every key was written in the preload; a miss is a wrong answer, not a normal outcome.
            if (await client.TryGetAsync(key, consistency).ConfigureAwait(false) is null)
                throw new BenchDataException($"key '{key}' not found although it was preloaded");
        }

        private static async Task PreloadAsync(string name, long ops, IReadOnlyList<RaftClient> pool, BenchOperation op, CancellationToken ct)
        {
            Log($"{name}: writing {ops} entries with {PreloadClients} clients...");
            var r = await new LoadPhase(name, ops, PreloadClients).RunAsync(pool, op, progress: true, ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            Log(Summary(r));
            if (r.Errors > 0)
                throw new BenchDataException($"{name}: {r.Errors} of {ops} writes failed (first: {r.ErrorSamples.FirstOrDefault()})");
        }

        private sealed record FailoverObservation(string Node, long KilledAt, long? ElectedAt, string? NewLeader);

        /// <summary>
        /// Waits until <paramref name="killAfter"/> measured ops are done, SIGKILLs the leader, then polls the survivors'
        /// status until one is leader of a newer term (election time, as opposed to what clients see).
        /// </summary>
        private static async Task<FailoverObservation> KillLeaderAsync(LoadPhase phase, Task run, long killAfter, LocalCluster cluster,
            RaftClient control, RaftClientOptions baseOptions, CancellationToken ct)
        {
            await Task.Yield();
            while (phase.Completed < killAfter)
            {
                if (run.IsCompleted || ct.IsCancellationRequested) throw new BenchDataException("the load finished before the leader could be killed");
                await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
            }
            var leaderEp = await control.LeaderAsync(ct).ConfigureAwait(false);
            var before = await control.StatusAsync(leaderEp, ct).ConfigureAwait(false);
            var node = cluster.NodeAt(leaderEp) ?? throw new BenchDataException($"leader {leaderEp} is not one of the started nodes");
            long killedAt = Stopwatch.GetTimestamp();
            LocalCluster.KillHard(node);
            Log($"killed leader {node.Member.Id} (pid {node.ProcessId}, term {before.Term}) after {phase.Completed} ops");

            var survivors = cluster.Nodes.Where(n => n != node).Select(n => n.EndPoint).ToArray();
            await using var observer = new RaftClient(baseOptions with
            {
                Endpoints = survivors,
                AttemptTimeout = TimeSpan.FromMilliseconds(50),
                Deadline = TimeSpan.FromMilliseconds(60),
            });
            long giveUp = killedAt + 30 * Stopwatch.Frequency;
            while (Stopwatch.GetTimestamp() < giveUp && !ct.IsCancellationRequested)
            {
                var statuses = await Task.WhenAll(survivors.Select(async ep =>
                {
                    try { return await observer.StatusAsync(ep, ct).ConfigureAwait(false); }
                    catch (RaftClientException) { return null; }
                })).ConfigureAwait(false);
                long now = Stopwatch.GetTimestamp();
                if (statuses.FirstOrDefault(s => s is not null && s.Term > before.Term &&
                        string.Equals(s.Role, "Leader", StringComparison.OrdinalIgnoreCase)) is { } elected)
                    return new FailoverObservation(node.Member.Id, killedAt, now, elected.Id);
                try { await Task.Delay(2, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
            return new FailoverObservation(node.Member.Id, killedAt, null, null);
        }

        private static string Summary(PhaseResult r)
        {
            var lat = r.SortedLatenciesMs();
            return string.Create(CultureInfo.InvariantCulture,
                $"{r.Name}: {r.Succeeded} ok, {r.Errors} errors in {r.Seconds:0.000} s = {r.OpsPerSecond:0} ops/s; " +
                $"p50 {PhaseResult.Percentile(lat, 0.5):0.000} ms, p99 {PhaseResult.Percentile(lat, 0.99):0.000} ms, max {(lat.Length > 0 ? lat[^1] : 0):0.000} ms");
        }

        /// <summary>First field of /proc/loadavg; null where there is none.</summary>
        private static double? HostLoad()
        {
            try
            {
                var text = File.ReadAllText("/proc/loadavg");
                return double.TryParse(text.Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        private static double Round(double v, int digits = 3) => Math.Round(v, digits, MidpointRounding.AwayFromZero);

        internal static void Log(string message) => Console.Error.WriteLine("bench: " + message);
    }
}
