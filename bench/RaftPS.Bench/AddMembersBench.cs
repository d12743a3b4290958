using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Bench;

/// <summary>
/// `--mode add-members`: two empty servers join a live cluster (optionally with a long log, --log-entries) while nothing
/// else runs; measures the time from the first add request until both are voters (learner, catch-up, promotion).
/// </summary>
internal static class AddMembersBench
{
    private const int Joiners = 2;

    public static async Task<AddMembersResult> RunAsync(BenchOptions o, LocalCluster cluster, CancellationToken ct)
    {
        await using var client = new RaftClient(RaftClientOptions.For(cluster.Cluster) with { Deadline = TimeSpan.FromSeconds(120), MaxSessions = 64 });
        await client.LeaderAsync(ct).ConfigureAwait(false);
        if (o.LogEntries > 0) await PreloadAsync(client, o.LogEntries, o.ValueSize, ct).ConfigureAwait(false);
        var leader = await client.StatusAsync(await client.LeaderAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);

        var joiners = new List<NodeProcess>();
        try
        {
            for (int i = 0; i < Joiners; i++)
                joiners.Add(await cluster.StartJoinerAsync($"n{cluster.Nodes.Count + i + 1}", o, ct).ConfigureAwait(false));
            var sw = Stopwatch.StartNew();
            var voterAt = new ConcurrentDictionary<string, double>();
            foreach (var j in joiners) await client.AddMemberAsync(j.Member.Id, j.Member.Endpoint, cancellationToken: ct).ConfigureAwait(false);
            double addedMs = sw.Elapsed.TotalMilliseconds;
            await Task.WhenAll(joiners.Select(async j =>
            {
                await client.WaitForVoterAsync(j.Member.Id, TimeSpan.FromSeconds(120), cancellationToken: ct).ConfigureAwait(false);
                voterAt[j.Member.Id] = sw.Elapsed.TotalMilliseconds;
            })).ConfigureAwait(false);
            double bothMs = sw.Elapsed.TotalMilliseconds;
            var members = await client.MembersAsync(ct).ConfigureAwait(false);
            return new AddMembersResult
            {
                Nodes = cluster.Nodes.Count,
                Added = Joiners,
                LogEntries = o.LogEntries,
                LogIndex = leader.LastIndex,
                AddRequestsMs = Math.Round(addedMs, 1),
                BothVotersMs = Math.Round(bothMs, 1),
                VoterMs = voterAt.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 1)),
                Voters = members.Members.Count(m => m.Role == MemberRoles.Voter),
                Fsync = o.Fsync,
                Date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            };
        }
        finally
        {
            foreach (var j in joiners)
            {
                j.Kill();
                await j.WaitExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                j.Dispose();
            }
        }
    }

    private static async Task PreloadAsync(RaftClient client, long entries, int valueSize, CancellationToken ct)
    {
        var value = new byte[valueSize];
        long next = -1;
        await Task.WhenAll(Enumerable.Range(0, 64).Select(async _ =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < entries)
                await client.PutAsync(string.Create(CultureInfo.InvariantCulture, $"k{i % 100_000:D8}"), value, ct).ConfigureAwait(false);
        })).ConfigureAwait(false);
    }
}

/// <summary>What `--mode add-members` prints (one JSON line).</summary>
public sealed record AddMembersResult
{
    [JsonPropertyName("system")] public string System { get; init; } = "raftps";
    [JsonPropertyName("mode")] public string Mode { get; init; } = "add-members";
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("added")] public required int Added { get; init; }
    [JsonPropertyName("log_entries")] public required long LogEntries { get; init; }
    [JsonPropertyName("log_index")] public required ulong LogIndex { get; init; }
    /// <summary>Both add requests answered (each returns once its learner entry applied).</summary>
    [JsonPropertyName("add_requests_ms")] public required double AddRequestsMs { get; init; }
    /// <summary>From the first add request until both new servers are voters of a non-joint configuration.</summary>
    [JsonPropertyName("both_voters_ms")] public required double BothVotersMs { get; init; }
    [JsonPropertyName("voter_ms")] public required Dictionary<string, double> VoterMs { get; init; }
    [JsonPropertyName("voters")] public required int Voters { get; init; }
    [JsonPropertyName("fsync")] public required bool Fsync { get; init; }
    [JsonPropertyName("date")] public required string Date { get; init; }
}
