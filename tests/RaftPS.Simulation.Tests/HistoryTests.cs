using System.Collections.Concurrent;
using RaftPS.History;
using Xunit.Abstractions;

namespace RaftPS.Simulation.Tests;

/// <summary>History files, the verdict with its failing window, and the workload engine against in-memory stores.</summary>
public sealed class HistoryTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("raftps-history-tests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static KvOperation Put(int c, string key, string value, long call, long ret) => new(c, KvOpKind.Put, key, value, null, call, ret, true);
    private static KvOperation Get(int c, string key, string? output, long call, long ret) => new(c, KvOpKind.Get, key, null, output, call, ret, true);
    private static KvOperation Unknown(int c, string key, string value, long call) => new(c, KvOpKind.Put, key, value, null, call, long.MaxValue, false);

    [Fact]
    public void A_saved_history_loads_back_with_every_field_including_unknown_outcomes()
    {
        var history = new OperationHistory(DateTimeOffset.Parse("2026-12-01T22:00:00Z"), [
            Put(0, "k", "v1", 10, 42),
            Get(1, "k", "v1", 50, 61),
            Get(1, "absent", null, 52, 60),
            new KvOperation(2, KvOpKind.Delete, "k", null, null, 70, 80, true),
            Unknown(3, "k", "v2", 90),
        ]);
        string path = Path.Combine(_dir, "h.json");
        history.Save(path);
        Assert.Contains("\"format\": \"raftps-history/1\"", File.ReadAllText(path));

        OperationHistory loaded = OperationHistory.Load(path);
        Assert.Equal(history.StartedAt, loaded.StartedAt);
        Assert.Equal(history.Operations, loaded.Operations);
        Assert.False(File.Exists(path + ".tmp-" + Environment.ProcessId));
    }

    public static TheoryData<string, string> BadFiles() => new()
    {
        { "not json", "{ this is not json" },
        { "wrong format tag", """{ "format": "something-else/1", "operations": [] }""" },
        { "no format tag", """{ "operations": [] }""" },
        { "put without value", """{ "format": "raftps-history/1", "operations": [ { "client": 0, "kind": "Put", "key": "k", "call": 1, "return": 2 } ] }""" },
        { "unknown kind", """{ "format": "raftps-history/1", "operations": [ { "client": 0, "kind": "Cas", "key": "k", "call": 1, "return": 2 } ] }""" },
        { "missing key", """{ "format": "raftps-history/1", "operations": [ { "client": 0, "kind": "Get", "call": 1, "return": 2 } ] }""" },
        { "return before call", """{ "format": "raftps-history/1", "operations": [ { "client": 0, "kind": "Get", "key": "k", "call": 5, "return": 2 } ] }""" },
        { "other time unit", """{ "format": "raftps-history/1", "timeUnit": "ticks", "operations": [] }""" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Loading_a_malformed_file_throws_a_typed_error_that_names_the_file(string name, string text)
    {
        string path = Path.Combine(_dir, name.Replace(' ', '-') + ".json");
        File.WriteAllText(path, text);
        var e = Assert.Throws<HistoryFormatException>(() => HistoryFile.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_correct_history_is_linearizable_and_has_no_window()
    {
        HistoryVerdict v = HistoryAnalyzer.Analyze([Put(0, "k", "a", 0, 10), Get(1, "k", "a", 5, 15), Unknown(2, "k", "b", 20), Get(1, "k", "b", 30, 40)], Budget);
        Assert.True(v.IsLinearizable, v.Explanation);
        Assert.False(v.TimedOut);
        Assert.Equal(4, v.Operations);
        Assert.Equal(1, v.Unknown);
        Assert.Equal(1, v.Keys);
        Assert.Empty(v.FailingWindow);
        Assert.Null(v.WindowStart);
    }

    [Fact]
    public void A_stale_read_fails_and_the_window_shows_the_overwrite_and_the_read()
    {
        HistoryVerdict v = HistoryAnalyzer.Analyze([
            Put(0, "k", "a", 0, 10),
            Put(0, "k", "b", 20, 30),
            Get(1, "k", "a", 40, 50),   // reads a value overwritten before it began
            Put(0, "other", "x", 0, 100),
        ], Budget);
        output.WriteLine(v.Explanation);
        Assert.False(v.IsLinearizable);
        Assert.Equal("k", v.Key);
        Assert.Equal(20, v.WindowStart);
        Assert.Equal(50, v.WindowEnd);
        Assert.Equal(["b", "a"], v.FailingWindow.Select(o => o.Value ?? o.Output));
        Assert.Contains("Smallest failing window: [20, 50]", v.Explanation);
    }

    [Fact]
    public void A_violation_deep_in_a_long_history_is_narrowed_to_a_few_operations()
    {
        // Three clients take turns on one key: each op follows the previous one, so the history is sequential and
        // linearizable; then one read in the middle is made to return the value from two writes earlier.
        var ops = new List<KvOperation>();
        string? current = null;
        long t = 0;
        for (int i = 0; i < 600; i++)
        {
            int c = i % 3;
            if (i % 2 == 0)
            {
                current = "v" + i;
                ops.Add(Put(c, "k", current, t, t + 5));
            }
            else
            {
                ops.Add(Get(c, "k", current, t, t + 5));
            }
            t += 10;
        }
        Assert.True(HistoryAnalyzer.Analyze(ops, Budget).IsLinearizable);
        int victim = 401; // a read of v400
        ops[victim] = ops[victim] with { Output = "v396" };

        HistoryVerdict v = HistoryAnalyzer.Analyze(ops, Budget);
        output.WriteLine(v.Explanation);
        foreach (var op in v.FailingWindow) output.WriteLine(op.Describe());
        Assert.False(v.IsLinearizable);
        Assert.Contains(ops[victim], v.FailingWindow);
        Assert.True(v.FailingWindow.Count <= 4, $"window of {v.FailingWindow.Count} ops");
        Assert.Equal(ops[victim].Return, v.WindowEnd);
    }

    [Fact]
    public void Analyze_rejects_malformed_input_with_typed_exceptions()
    {
        Assert.Throws<ArgumentNullException>(() => HistoryAnalyzer.Analyze(null!, Budget));
        Assert.Throws<ArgumentOutOfRangeException>(() => HistoryAnalyzer.Analyze([], TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => HistoryAnalyzer.Analyze([new KvOperation(0, KvOpKind.Put, "k", null, null, 0, 1, true)], Budget));
    }

    [Fact]
    public async Task A_workload_on_an_atomic_store_is_linearizable_and_reads_back_every_acknowledged_write()
    {
        var store = new MemoryStore(seed: 1, unknownPercent: 5, loseLedgerWrites: false);
        var history = new OperationHistory();
        var workload = KvWorkload.Start(store, history, new WorkloadOptions { Clients = 4, RegisterKeys = 3, Pause = TimeSpan.Zero, Seed = 7 });
        Assert.True(await workload.WaitForAcknowledgedAsync(400, TimeSpan.FromSeconds(30)));
        WorkloadResult result = await workload.StopAsync();
        await workload.DisposeAsync();
        output.WriteLine($"{result.Operations} ops, {result.Acknowledged} acked, {result.Unknown} unknown, {result.LedgerWrites} ledger");

        Assert.Same(result, await workload.StopAsync());
        Assert.Equal(history.Count, result.Operations);
        Assert.True(result.Unknown > 0, "the store's unknown outcomes must show up");
        Assert.True(result.LedgerWrites > 50);
        Assert.Equal(result.LedgerWrites, result.Verified);
        Assert.Empty(result.LostWrites);
        Assert.Empty(result.Unverified);
        Assert.All(history.Operations, o => Assert.StartsWith(workload.Options.KeyPrefix, o.Key));
        HistoryVerdict v = HistoryAnalyzer.Analyze(history.Operations, Budget);
        Assert.True(v.IsLinearizable, v.Explanation);
        Assert.False(v.TimedOut);
    }

    [Fact]
    public async Task A_store_that_loses_acknowledged_writes_is_caught_by_the_read_back_and_the_checker()
    {
        var store = new MemoryStore(seed: 2, unknownPercent: 0, loseLedgerWrites: true);
        var history = new OperationHistory();
        await using var workload = KvWorkload.Start(store, history, new WorkloadOptions { Clients = 3, Pause = TimeSpan.Zero, Seed = 3 });
        Assert.True(await workload.WaitForAcknowledgedAsync(300, TimeSpan.FromSeconds(30)));
        WorkloadResult result = await workload.StopAsync();
        output.WriteLine(string.Join("\n", result.LostWrites.Take(3)));
        Assert.NotEmpty(result.LostWrites);
        Assert.Contains("read <absent>", result.LostWrites[0]);

        HistoryVerdict v = HistoryAnalyzer.Analyze(history.Operations, Budget);
        output.WriteLine(v.Explanation);
        Assert.False(v.IsLinearizable);
        Assert.Contains("ledger/", v.Key);
        Assert.NotEmpty(v.FailingWindow);
    }

    [Fact]
    public async Task Keys_that_cannot_be_read_back_are_unverified_not_lost()
    {
        var store = new MemoryStore(seed: 4, unknownPercent: 0, loseLedgerWrites: false);
        var history = new OperationHistory();
        var workload = KvWorkload.Start(store, history, new WorkloadOptions
        {
            Clients = 2, LedgerPercent = 60, Pause = TimeSpan.Zero, FinalReadTimeout = TimeSpan.FromMilliseconds(300), Seed = 5,
        });
        Assert.True(await workload.WaitForAcknowledgedAsync(200, TimeSpan.FromSeconds(30)));
        store.Down = true; // every read now fails: no majority
        WorkloadResult result = await workload.StopAsync();
        await workload.DisposeAsync();

        Assert.True(result.LedgerWrites > 50);
        Assert.Equal(result.LedgerWrites, result.Unverified.Count);
        Assert.Empty(result.LostWrites);
        Assert.Equal(0, result.Verified);
        Assert.True(HistoryAnalyzer.Analyze(history.Operations, Budget).IsLinearizable);
    }

    [Fact]
    public void Workload_options_out_of_range_are_rejected()
    {
        var store = new MemoryStore(0, 0, false);
        Assert.Throws<ArgumentOutOfRangeException>(() => KvWorkload.Start(store, new OperationHistory(), new WorkloadOptions { Clients = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => KvWorkload.Start(store, new OperationHistory(), new WorkloadOptions { ReadPercent = 80, LedgerPercent = 30 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => KvWorkload.Start(store, new OperationHistory(), new WorkloadOptions { KeyPrefix = "" }));
    }

    /// <summary>
    /// An atomic in-memory map with a little concurrency. Unknown outcomes: the write applies or not at random and
    /// the caller is told "unknown". With <c>loseLedgerWrites</c> every fifth ledger write is acknowledged but never
    /// applied: a store that loses acknowledged writes.
    /// </summary>
    private sealed class MemoryStore(int seed, int unknownPercent, bool loseLedgerWrites) : IKvTarget
    {
        private readonly ConcurrentDictionary<string, string> _map = new();
        private readonly Random _random = new(seed);
        private int _ledger;

        /// <summary>When set, reads fail as if the store had no quorum.</summary>
        public volatile bool Down;

        public async Task<KvCallResult> PutAsync(string key, string value, CancellationToken cancellationToken)
        {
            await Task.Yield();
            int roll;
            lock (_random)
            {
                roll = _random.Next(100);
            }
            if (roll < unknownPercent)
            {
                if (roll % 2 == 0)
                {
                    _map[key] = value;
                }
                return new KvCallResult(KvCallOutcome.Unknown, null, "timed out");
            }
            if (loseLedgerWrites && key.Contains("/ledger/", StringComparison.Ordinal) && Interlocked.Increment(ref _ledger) % 5 == 0)
            {
                return KvCallResult.Ok();
            }
            _map[key] = value;
            return KvCallResult.Ok();
        }

        public async Task<KvCallResult> GetAsync(string key, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Down)
            {
                return new KvCallResult(KvCallOutcome.NotApplied, null, "no quorum");
            }
            return KvCallResult.Ok(_map.TryGetValue(key, out string? v) ? v : null);
        }
    }
}
