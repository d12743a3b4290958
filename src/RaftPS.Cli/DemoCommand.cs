using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    private Command DemoCommand()
    {
        var keep = new Option<bool>("--keep") { Description = "Keep the temp directory (cluster file, data, node logs) afterwards." };
        var values = new Option<int>("--values") { Description = "How many values to write before the crash.", DefaultValueFactory = _ => 20, HelpName = "N" };
        values.Validators.Add(r =>
        {
            if (TryGetValue(r, out int n) && n is < 1 or > 10_000) r.AddError($"--values must be from 1 to 10000, got {n}");
        });
        var command = new Command("demo",
            "Start a local 3-node cluster (child processes on free loopback ports, data in a temp directory), write values, " +
            "kill the leader, show the failover and that every value survived, restart the old leader and show it catch up.\n" +
            "Exit code 0 when every check passed, 1 when one failed.")
        {
            keep, values,
        };
        command.SetAction((pr, ct) => Guarded(token => new DemoRunner(_out, _err, pr.GetValue(keep), pr.GetValue(values)).RunAsync(token), json: false, ct));
        return command;
    }
}

/// <summary>The `raftps demo` script: a narrated failover drill against real node processes.</summary>
internal sealed class DemoRunner(TextWriter output, TextWriter error, bool keep, int valueCount)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);
    private static readonly string[] Words =
    [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
        "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    ];

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _passed;
    private int _failed;

    public async Task<int> RunAsync(CancellationToken ct)
    {
        string root = Path.Combine(Path.GetTempPath(), "raftps-demo-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var nodes = new List<ChildNode>();
        bool showLogs = false;
        try
        {
            output.WriteLine("RaftPS demo: a 3-node cluster on this machine, one process per node.");
            output.WriteLine($"  data and logs: {root}");
            var cluster = CreateCluster(root);
            foreach (var m in cluster.Members)
            {
                string dir = Path.Combine(root, m.Id);
                nodes.Add(new ChildNode(m.Id, m.ResolveEndPoint(), Path.Combine(root, m.Id + ".log"),
                [
                    "node", "--id", m.Id, "--cluster", Path.Combine(root, "cluster.json"), "--data", dir,
                    "--log-level", "info", "--segment-mb", "8",
                ]));
            }

            await using var client = RaftClient.Create(cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(10) });
            // Status probes must fail fast on a dead node: the failover clock depends on them.
            await using var probe = RaftClient.Create(cluster, new RaftClientOptions
            {
                Deadline = TimeSpan.FromMilliseconds(400), AttemptTimeout = TimeSpan.FromMilliseconds(200), StatusTimeout = TimeSpan.FromMilliseconds(400),
            });

            // 1. Start and elect.
            output.WriteLine();
            output.WriteLine("Starting the nodes...");
            var started = _clock.Elapsed;
            foreach (var n in nodes) n.Start();
            foreach (var n in nodes)
            {
                await n.WaitReadyAsync(StepTimeout, ct).ConfigureAwait(false);
                output.WriteLine($"  {n.Id}  {Endpoint(n.EndPoint)}  pid {n.Pid}, serving {Seconds(_clock.Elapsed - started)} after launch");
            }
            var allReady = _clock.Elapsed;
            var (leader, leaderStatus) = await WaitForLeaderAsync(probe, nodes, minTerm: 1, ct).ConfigureAwait(false);
            Check(true, $"{leader.Id} is the leader (term {leaderStatus.Term}), agreed by all {nodes.Count} nodes {Seconds(_clock.Elapsed - allReady)} after the last one came up");

            // 2. Write and read back.
            output.WriteLine();
            output.WriteLine($"Writing {valueCount} values through the leader...");
            var expected = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var writeClock = Stopwatch.StartNew();
            ulong firstVersion = 0, lastVersion = 0;
            for (int i = 1; i <= valueCount; i++)
            {
                string key = $"demo/{i.ToString("D2", CultureInfo.InvariantCulture)}";
                string value = $"{Words[(i - 1) % Words.Length]}-{i}";
                var item = await client.PutAsync(key, value, ct).ConfigureAwait(false);
                expected[key] = value;
                if (firstVersion == 0) firstVersion = item.Version;
                lastVersion = item.Version;
            }
            Check(true, $"wrote {valueCount} values in {Millis(writeClock.Elapsed)} (log index {firstVersion} to {lastVersion}), each on a majority before it was acknowledged");
            int readBack = await CountMatchingAsync(client, expected, ct).ConfigureAwait(false);
            Check(readBack == expected.Count, $"read back {readBack}/{expected.Count} values");

            // 3. Crash the leader.
            output.WriteLine();
            output.WriteLine($"Killing the leader {leader.Id} (pid {leader.Pid})...");
            var oldLeader = leader;
            var killedAt = _clock.Elapsed;
            oldLeader.Kill();
            var survivors = nodes.Where(n => n != oldLeader).ToList();
            var (newLeader, newStatus) = await WaitForLeaderAsync(probe, survivors, minTerm: leaderStatus.Term + 1, ct).ConfigureAwait(false);
            var failover = _clock.Elapsed - killedAt;
            Check(true, $"{newLeader.Id} took over as leader (term {newStatus.Term}) after {Seconds(failover)}");
            int survived = await CountMatchingAsync(client, expected, ct).ConfigureAwait(false);
            Check(survived == expected.Count, survived == expected.Count
                ? $"all {expected.Count} values survived the failover"
                : $"only {survived}/{expected.Count} values survived the failover");
            const string afterKey = "demo/after-failover";
            string afterValue = $"written while {oldLeader.Id} was down";
            var after = await client.PutAsync(afterKey, afterValue, ct).ConfigureAwait(false);
            Check(true, $"the new leader accepts writes ({afterKey}, version {after.Version})");

            // 4. Bring the old leader back.
            output.WriteLine();
            output.WriteLine($"Restarting {oldLeader.Id} from its data directory...");
            var restartedAt = _clock.Elapsed;
            oldLeader.Start();
            await oldLeader.WaitReadyAsync(StepTimeout, ct).ConfigureAwait(false);
            output.WriteLine($"  {oldLeader.Id}  {Endpoint(oldLeader.EndPoint)}  pid {oldLeader.Pid}, serving {Seconds(_clock.Elapsed - restartedAt)} after launch");
            var rejoinedAt = _clock.Elapsed;
            var target = (await client.StatusAsync(newLeader.EndPoint, ct).ConfigureAwait(false)).AppliedIndex;
            var caughtUp = await WaitForAppliedAsync(probe, oldLeader, target, ct).ConfigureAwait(false);
            Check(caughtUp.AppliedIndex >= target,
                $"{oldLeader.Id} rejoined as {caughtUp.Role.ToLowerInvariant()} and caught up: applied index {caughtUp.AppliedIndex} reached the leader's {target} " +
                $"{Seconds(_clock.Elapsed - rejoinedAt)} after it came up");
            await using (var local = new RaftClient(RaftClientOptions.For(cluster) with { Endpoints = [oldLeader.EndPoint], Deadline = TimeSpan.FromSeconds(5) }))
            {
                var seen = await local.TryGetAsync(afterKey, ReadConsistency.Stale, ct).ConfigureAwait(false);
                string? text = seen is null ? null : Output.Display(seen.Value);
                Check(text == afterValue, text == afterValue
                    ? $"{oldLeader.Id} serves the value written while it was down from its own state"
                    : $"{oldLeader.Id} returned {(text is null ? "nothing" : $"'{text}'")} for {afterKey}, expected '{afterValue}'");
            }

            output.WriteLine();
            bool failed = _failed > 0;
            showLogs = failed;
            output.WriteLine(failed
                ? $"Demo FAILED: {_failed} of {_passed + _failed} checks failed."
                : $"Demo passed: {_passed}/{_passed} checks in {Seconds(_clock.Elapsed)}.");
            return failed ? ExitCodes.Failure : ExitCodes.Success;
        }
        catch (DemoFailedException e)
        {
            showLogs = true;
            output.WriteLine($"  ✗ {e.Message}");
            output.WriteLine();
            output.WriteLine("Demo FAILED.");
            return ExitCodes.Failure;
        }
        catch (RaftClientException e)
        {
            showLogs = true;
            output.WriteLine($"  ✗ {e.Message}");
            output.WriteLine();
            output.WriteLine("Demo FAILED.");
            return ExitCodes.Failure;
        }
        finally
        {
            // Runs on success, failure, exception and Ctrl+C alike: no node outlives the demo.
            if (showLogs)
            {
                foreach (var n in nodes)
                {
                    string tail = n.StderrTail();
                    if (tail.Length > 0) error.WriteLine($"last log lines of {n.Id}:{Environment.NewLine}{tail}");
                }
            }
            int running = nodes.Count(n => n.IsRunning);
            foreach (var n in nodes) n.Dispose();
            output.WriteLine($"Stopped {running} node process{(running == 1 ? "" : "es")}.");
            if (keep)
            {
                output.WriteLine($"Kept {root} (cluster.json, data directories, node logs).");
            }
            else
            {
                DeleteDirectory(root);
                output.WriteLine($"Removed {root}.");
            }
        }
    }

    private void Check(bool ok, string text)
    {
        if (ok) _passed++; else _failed++;
        output.WriteLine($"  {(ok ? "✓" : "✗")} {text}");
    }

    private static ClusterDefinition CreateCluster(string root)
    {
        var ports = FreePorts.Udp(3);
        var cluster = new ClusterDefinition("demo", ports.Select((p, i) => new ClusterMember($"n{i + 1}", "127.0.0.1", p)));
        cluster.Save(Path.Combine(root, "cluster.json"));
        return cluster;
    }


    /// <summary>
    /// Polls the nodes' status until one of <paramref name="candidates"/> leads in a term of at least
    /// <paramref name="minTerm"/> and every other reachable candidate follows it.
    /// </summary>
    private async Task<(ChildNode Node, NodeStatus Status)> WaitForLeaderAsync(RaftClient probe, IReadOnlyList<ChildNode> candidates, ulong minTerm, CancellationToken ct)
    {
        var deadline = _clock.Elapsed + StepTimeout;
        NodeStatus?[] last = [];
        while (_clock.Elapsed < deadline)
        {
            last = await Task.WhenAll(candidates.Select(c => TryStatusAsync(probe, c, ct))).ConfigureAwait(false);
            for (int i = 0; i < candidates.Count; i++)
            {
                if (last[i] is not { Role: "Leader" } s || s.Term < minTerm) continue;
                if (last.All(o => o is null || ReferenceEquals(o, s) || (o.Term == s.Term && o.Leader == s.Id)))
                    return (candidates[i], s);
            }
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
        string states = string.Join(", ", candidates.Select((c, i) => i < last.Length && last[i] is { } s ? $"{c.Id} {s.Role} in term {s.Term}" : $"{c.Id} unreachable"));
        throw new DemoFailedException($"no leader elected among {string.Join(", ", candidates.Select(c => c.Id))} within {StepTimeout.TotalSeconds:0} s ({states})");
    }

    private async Task<NodeStatus> WaitForAppliedAsync(RaftClient probe, ChildNode node, ulong target, CancellationToken ct)
    {
        var deadline = _clock.Elapsed + StepTimeout;
        NodeStatus? last = null;
        while (_clock.Elapsed < deadline)
        {
            last = await TryStatusAsync(probe, node, ct).ConfigureAwait(false) ?? last;
            if (last is not null && last.AppliedIndex >= target && last.Leader is not null) return last;
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
        throw new DemoFailedException($"{node.Id} did not catch up within {StepTimeout.TotalSeconds:0} s: applied index {(last is null ? "unknown" : last.AppliedIndex)}, leader's {target}");
    }

    private static async Task<NodeStatus?> TryStatusAsync(RaftClient probe, ChildNode node, CancellationToken ct)
    {
        try
        {
            return await probe.StatusAsync(node.EndPoint, ct).ConfigureAwait(false);
        }
        catch (RaftClientException)
        {
            return null;
        }
    }

    private static async Task<int> CountMatchingAsync(RaftClient client, IReadOnlyDictionary<string, string> expected, CancellationToken ct)
    {
        int ok = 0;
        foreach (var (key, value) in expected)
        {
            var item = await client.TryGetAsync(key, ReadConsistency.Linearizable, ct).ConfigureAwait(false);
            if (item is not null && Output.Display(item.Value) == value) ok++;
        }
        return ok;
    }

    private void DeleteDirectory(string path)
    {
        // The killed processes may hold files open for a moment (Windows); retry briefly, then say so.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
                return;
            }
            catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && attempt < 10)
            {
                Thread.Sleep(100);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"warning: could not remove {path}: {e.Message}");
                return;
            }
        }
    }

    private static string Endpoint(IPEndPoint ep) => ClusterDefinition.FormatEndpoint(ep.Address.ToString(), ep.Port);
    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";
    private static string Millis(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture) + " ms";
}
