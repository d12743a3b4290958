using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Bench;

/// <summary>
/// `--mode snapshot-catchup`: fill the cluster with --state-mb of values (snapshots and log compaction happen as they
/// would in production), then add an empty server and time its catch-up — a streamed snapshot of the whole state plus
/// the log tail — while a few clients keep writing; reports the stream's throughput (from the leader's log) and the
/// latency of the writes made during the catch-up.
/// </summary>
internal static partial class SnapshotCatchupBench
{
    private const int Writers = 4;
    private const int FillClients = 32;
    private const int DefaultValueSize = 64 * 1024;

    public static async Task<SnapshotCatchupResult> RunAsync(BenchOptions o, LocalCluster cluster, CancellationToken ct)
    {
        int valueSize = o.ValueSize >= 4096 ? o.ValueSize : DefaultValueSize;
        long keys = ((long)o.StateMb << 20) / valueSize;
        await using var client = new RaftClient(RaftClientOptions.For(cluster.Cluster) with { Deadline = TimeSpan.FromSeconds(120), MaxSessions = 64 });
        await client.LeaderAsync(ct).ConfigureAwait(false);

        BenchProgram.Log($"writing {keys} values of {valueSize} bytes ({o.StateMb} MiB)...");
        var fill = Stopwatch.StartNew();
        await FillAsync(client, keys, valueSize, ct).ConfigureAwait(false);
        double fillSeconds = fill.Elapsed.TotalSeconds;
        var leaderEndpoint = await client.LeaderAsync(ct).ConfigureAwait(false);
        var before = await client.StatusAsync(leaderEndpoint, ct).ConfigureAwait(false);
        BenchProgram.Log($"filled in {fillSeconds:F1} s; leader {before.Id} at index {before.CommitIndex}, snapshot {before.SnapshotIndex}");

        var joiner = await cluster.StartJoinerAsync($"n{cluster.Nodes.Count + 1}", o, ct).ConfigureAwait(false);
        try
        {
            using var stopWriters = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var latencies = new List<double>[Writers];
            var writers = Enumerable.Range(0, Writers).Select(w => WriteUntilStoppedAsync(client, w, latencies[w] = [], stopWriters.Token)).ToArray();
            var sw = Stopwatch.StartNew();
            await AddWhenNoChangeInFlightAsync(client, joiner.Member, ct).ConfigureAwait(false);
            double addMs = sw.Elapsed.TotalMilliseconds;
            NodeStatus? seen = null;
            while (seen is null || seen.AppliedIndex < before.CommitIndex)
            {
                await Task.Delay(20, ct).ConfigureAwait(false);
                try { seen = await client.StatusAsync(joiner.EndPoint, ct).ConfigureAwait(false); }
                catch (RaftClientException) { } // busy installing: ask again
                if (sw.Elapsed > TimeSpan.FromMinutes(10)) throw new BenchDataException($"{joiner.Member.Id} did not catch up in 10 minutes (applied {seen?.AppliedIndex})");
            }
            double caughtUpMs = sw.Elapsed.TotalMilliseconds;
            await stopWriters.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(writers).ConfigureAwait(false);
            var all = latencies.SelectMany(l => l).Order().ToArray();
            // Leadership may move during the catch-up: the stream that counted is the last one any node delivered.
            var stream = cluster.Nodes.Select(n => FindStreamReport(Path.Combine(cluster.Directory, n.Member.Id + ".log")))
                .Where(r => r is not null).OrderBy(r => r!.Value.At, StringComparer.Ordinal).LastOrDefault();
            if (stream is null) BenchProgram.Log("no delivered snapshot stream found in the nodes' logs (did the member catch up from entries only?)");
            double stateMiB = (double)keys * valueSize / (1 << 20);
            var result = new SnapshotCatchupResult
            {
                Nodes = cluster.Nodes.Count,
                StateMb = o.StateMb,
                ValueSize = valueSize,
                Keys = keys,
                FillSeconds = Math.Round(fillSeconds, 1),
                LeaderSnapshotIndex = before.SnapshotIndex,
                CommitIndex = before.CommitIndex,
                AddRequestMs = Math.Round(addMs, 1),
                CatchupMs = Math.Round(caughtUpMs, 1),
                CatchupMibPerSecond = Math.Round(stateMiB / (caughtUpMs / 1000), 1),
                StreamBytes = stream?.Bytes,
                StreamMs = stream?.Ms,
                StreamMibPerSecond = stream is { } s ? Math.Round(s.Bytes / (double)(1 << 20) / (s.Ms / 1000.0), 1) : null,
                WritesDuring = all.Length,
                WriteP50Ms = Percentile(all, 0.50),
                WriteP99Ms = Percentile(all, 0.99),
                WriteMaxMs = all.Length > 0 ? Math.Round(all[^1], 2) : null,
                Fsync = o.Fsync,
                Date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            };
            BenchProgram.Log($"{joiner.Member.Id} caught up in {caughtUpMs:F0} ms ({result.CatchupMibPerSecond} MiB/s of state); stream " +
                             (stream is null ? "not found" : $"{stream.Value.Bytes} bytes in {stream.Value.Ms} ms ({result.StreamMibPerSecond} MiB/s)") +
                             $"; {all.Length} writes meanwhile, p99 {result.WriteP99Ms} ms");
            return result;
        }
        finally
        {
            joiner.Kill();
            await joiner.WaitExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            joiner.Dispose();
        }
    }

    /// <summary>A new leader's own configuration step (or an auto-leave) may still be in flight: that refusal is retryable.</summary>
    private static async Task AddWhenNoChangeInFlightAsync(RaftClient client, ClusterMember member, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await client.AddMemberAsync(member.Id, member.Endpoint, cancellationToken: ct).ConfigureAwait(false);
                return;
            }
            catch (RaftMembershipException e) when (e.Reason == MembershipError.ChangeInProgress && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
        }
    }

    private static async Task FillAsync(RaftClient client, long keys, int valueSize, CancellationToken ct)
    {
        var value = new byte[valueSize];
        new Random(1).NextBytes(value);
        long next = -1;
        await Task.WhenAll(Enumerable.Range(0, FillClients).Select(async _ =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < keys)
                await client.PutAsync(string.Create(CultureInfo.InvariantCulture, $"state/{i:D8}"), value, ct).ConfigureAwait(false);
        })).ConfigureAwait(false);
    }

    private static async Task WriteUntilStoppedAsync(RaftClient client, int writer, List<double> latencies, CancellationToken stop)
    {
        var value = new byte[100];
        for (long i = 0; !stop.IsCancellationRequested; i++)
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                await client.PutAsync(string.Create(CultureInfo.InvariantCulture, $"during/{writer}/{i % 1000}"), value, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
    }

    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)], 2);

    /// <summary>The last delivered stream the leader logged ("snapshot stream I to N: Delivered after M ms, B bytes ...").</summary>
    private static (long Bytes, long Ms, string At)? FindStreamReport(string logPath)
    {
        string text;
        using (var fs = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var reader = new StreamReader(fs))
            text = reader.ReadToEnd();
        var matches = StreamLine().Matches(text);
        if (matches.Count == 0) return null;
        var m = matches[^1];
        return (long.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups["ms"].Value, CultureInfo.InvariantCulture), m.Groups["at"].Value);
    }

    [GeneratedRegex(@"(?<at>\d\d:\d\d:\d\d\.\d+)[^\n]*snapshot stream \d+ to \d+: Delivered after (?<ms>\d+) ms, (?<bytes>\d+) bytes")]
    private static partial Regex StreamLine();
}

/// <summary>What `--mode snapshot-catchup` prints (one JSON line).</summary>
public sealed record SnapshotCatchupResult
{
    [JsonPropertyName("system")] public string System { get; init; } = "raftps";
    [JsonPropertyName("mode")] public string Mode { get; init; } = "snapshot-catchup";
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("state_mb")] public required int StateMb { get; init; }
    [JsonPropertyName("value_size")] public required int ValueSize { get; init; }
    [JsonPropertyName("keys")] public required long Keys { get; init; }
    [JsonPropertyName("fill_s")] public required double FillSeconds { get; init; }
    [JsonPropertyName("leader_snapshot_index")] public required ulong LeaderSnapshotIndex { get; init; }
    [JsonPropertyName("commit_index")] public required ulong CommitIndex { get; init; }
    [JsonPropertyName("add_request_ms")] public required double AddRequestMs { get; init; }
    /// <summary>From the add request until the new member applied everything committed before it: snapshot plus log tail.</summary>
    [JsonPropertyName("catchup_ms")] public required double CatchupMs { get; init; }
    [JsonPropertyName("catchup_mib_s")] public required double CatchupMibPerSecond { get; init; }
    /// <summary>The leader's own report of the snapshot stream (checksum, transfer and the follower's verification).</summary>
    [JsonPropertyName("stream_bytes")] public long? StreamBytes { get; init; }
    [JsonPropertyName("stream_ms")] public long? StreamMs { get; init; }
    [JsonPropertyName("stream_mib_s")] public double? StreamMibPerSecond { get; init; }
    [JsonPropertyName("writes_during")] public required int WritesDuring { get; init; }
    [JsonPropertyName("write_p50_ms")] public double? WriteP50Ms { get; init; }
    [JsonPropertyName("write_p99_ms")] public double? WriteP99Ms { get; init; }
    [JsonPropertyName("write_max_ms")] public double? WriteMaxMs { get; init; }
    [JsonPropertyName("fsync")] public required bool Fsync { get; init; }
    [JsonPropertyName("date")] public required string Date { get; init; }
}
