using System.Diagnostics;
using System.Text.Json;
using RaftPS.Simulation;

// dotnet run -c Release --project tests/RaftPS.Simulation -- --seeds N [--start S] [--nodes 3|5|7] [--mutation send-before-persist] [--verbose]
// Prints a line per failing seed (with its trace), then one JSON summary as the last line; exits 1 on any violation.
int seeds = 100, start = 1;
int[] nodeCounts = [3, 5, 7];
var mutation = SimMutation.None;
bool verbose = false;
bool membership = false;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--seeds": seeds = int.Parse(Next()); break;
        case "--start": start = int.Parse(Next()); break;
        case "--nodes":
            var n = int.Parse(Next());
            if (n is not (3 or 5 or 7)) { Console.Error.WriteLine("--nodes must be 3, 5 or 7"); return 2; }
            nodeCounts = [n];
            break;
        case "--mutation":
            mutation = Next() switch
            {
                "send-before-persist" => SimMutation.SendBeforePersist,
                "none" => SimMutation.None,
                var m => throw new ArgumentException($"unknown mutation '{m}'"),
            };
            break;
        case "--verbose": verbose = true; break;
        case "--membership": membership = true; break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'. Usage: --seeds N [--start S] [--nodes 3|5|7] [--mutation send-before-persist] [--membership] [--verbose]");
            return 2;
    }
}
if (seeds < 1) { Console.Error.WriteLine("--seeds must be at least 1"); return 2; }

var sw = Stopwatch.StartNew();
var results = new SimResult[seeds];
Parallel.For(0, seeds, i =>
{
    int seed = start + i;
    // With no --nodes, cycle through 3, 5 and 7 replicas so one run covers all sizes.
    int nodes = nodeCounts[i % nodeCounts.Length];
    results[i] = Simulation.Run(new SimOptions { Seed = seed, Nodes = nodes, Mutation = mutation, Membership = membership });
});
var failed = results.Where(r => !r.Ok).ToArray();
foreach (var r in failed)
{
    Console.WriteLine($"FAILED seed {r.Seed} (nodes {r.Nodes}): {string.Join("; ", r.Violations)}");
    Console.WriteLine($"  replay: dotnet run -c Release --project tests/RaftPS.Simulation -- --seeds 1 --start {r.Seed} --nodes {r.Nodes}");
    foreach (var line in r.Trace) Console.WriteLine("  " + line);
}
if (verbose)
    foreach (var r in results.Where(r => r.Ok).Take(5))
        Console.WriteLine($"seed {r.Seed}: steps {r.Steps} ops {r.Operations} elections {r.Elections} crashes {r.Crashes} snapshots {r.SnapshotsSent}");
var summary = new
{
    seeds,
    start,
    nodes = nodeCounts,
    mutation = mutation.ToString(),
    membership,
    steps = results.Sum(r => r.Steps),
    operations = results.Sum(r => (long)r.Operations),
    elections = results.Sum(r => (long)r.Elections),
    crashes = results.Sum(r => (long)r.Crashes),
    snapshots_sent = results.Sum(r => (long)r.SnapshotsSent),
    conf_changes = results.Sum(r => (long)r.ConfChanges),
    linearizability_timeouts = results.Count(r => r.LinearizabilityTimedOut),
    violations = failed.Sum(r => r.Violations.Count),
    failed_seeds = failed.Select(r => r.Seed).ToArray(),
    seconds = Math.Round(sw.Elapsed.TotalSeconds, 1),
};
Console.WriteLine(JsonSerializer.Serialize(summary));
return failed.Length == 0 ? 0 : 1;
