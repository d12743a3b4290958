using System.Diagnostics;
using System.Text.Json;
using RaftPS.Simulation;

// dotnet run -c Release --project tests/RaftPS.Simulation -- --seeds N [--start S] [--nodes 3|5|7] [--membership]
//     [--mutation send-before-persist] [--stop-on-failure] [--verbose]
// Prints a line per failing seed (with its trace), then one JSON summary as the last line; exits 1 on any violation.
// --stop-on-failure stops starting new seeds once one fails (the mutation script uses it: it only needs one violation).
int seeds = 100, start = 1;
int[] nodeCounts = [3, 5, 7];
var mutation = SimMutation.None;
bool verbose = false;
bool membership = false;
bool stopOnFailure = false;
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
        case "--stop-on-failure": stopOnFailure = true; break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'. Usage: --seeds N [--start S] [--nodes 3|5|7] [--mutation send-before-persist] [--membership] [--stop-on-failure] [--verbose]");
            return 2;
    }
}
if (seeds < 1) { Console.Error.WriteLine("--seeds must be at least 1"); return 2; }

var sw = Stopwatch.StartNew();
var results = new SimResult?[seeds];
Parallel.For(0, seeds, (i, loop) =>
{
    int seed = start + i;
    // With no --nodes, cycle through 3, 5 and 7 replicas so one run covers all sizes.
    int nodes = nodeCounts[i % nodeCounts.Length];
    var r = Simulation.Run(new SimOptions { Seed = seed, Nodes = nodes, Mutation = mutation, Membership = membership });
    results[i] = r;
    if (!r.Ok && stopOnFailure) loop.Stop();
});
var ran = results.OfType<SimResult>().ToArray();
var failed = ran.Where(r => !r.Ok).OrderBy(r => r.Seed).ToArray();
foreach (var r in failed)
{
    Console.WriteLine($"FAILED seed {r.Seed} (nodes {r.Nodes}): {string.Join("; ", r.Violations)}");
    Console.WriteLine($"  schedule: {r.Schedule}");
    Console.WriteLine($"  replay: dotnet run -c Release --project tests/RaftPS.Simulation -- --seeds 1 --start {r.Seed} --nodes {r.Nodes}" +
                      (membership ? " --membership" : "") + (mutation != SimMutation.None ? " --mutation send-before-persist" : ""));
    foreach (var line in r.Trace) Console.WriteLine("  " + line);
}
if (verbose)
    foreach (var r in ran.Where(r => r.Ok).Take(5))
        Console.WriteLine($"seed {r.Seed}: steps {r.Steps} ops {r.Operations} elections {r.Elections} crashes {r.Crashes} snapshots {r.SnapshotsSent}");
var summary = new
{
    seeds,
    seeds_run = ran.Length,
    start,
    nodes = nodeCounts,
    mutation = mutation.ToString(),
    membership,
    steps = ran.Sum(r => r.Steps),
    operations = ran.Sum(r => (long)r.Operations),
    elections = ran.Sum(r => (long)r.Elections),
    crashes = ran.Sum(r => (long)r.Crashes),
    snapshots_sent = ran.Sum(r => (long)r.SnapshotsSent),
    conf_changes = ran.Sum(r => (long)r.ConfChanges),
    pauses = ran.Sum(r => (long)r.Pauses),
    figure8_crashes = ran.Sum(r => (long)r.Figure8Crashes),
    reads_by_deposed_leader = ran.Sum(r => (long)r.ReadsByDeposedLeader),
    linearizability_timeouts = ran.Count(r => r.LinearizabilityTimedOut),
    violations = failed.Sum(r => r.Violations.Count),
    failed_seeds = failed.Select(r => r.Seed).ToArray(),
    seconds = Math.Round(sw.Elapsed.TotalSeconds, 1),
};
Console.WriteLine(JsonSerializer.Serialize(summary));
return failed.Length == 0 ? 0 : 1;
