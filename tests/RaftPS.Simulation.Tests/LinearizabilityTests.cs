using System.Diagnostics;
using RaftPS.History;
using Xunit.Abstractions;

namespace RaftPS.Simulation.Tests;

public sealed class LinearizabilityTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(10);

    private static KvOperation Put(int c, string k, string v, long call, long ret) => new(c, KvOpKind.Put, k, v, null, call, ret, true);
    private static KvOperation Get(int c, string k, string? read, long call, long ret) => new(c, KvOpKind.Get, k, null, read, call, ret, true);
    private static KvOperation Del(int c, string k, long call, long ret) => new(c, KvOpKind.Delete, k, null, null, call, ret, true);
    private static KvOperation UnknownPut(int c, string k, string v, long call) => new(c, KvOpKind.Put, k, v, null, call, long.MaxValue, false);
    private static KvOperation UnknownDel(int c, string k, long call) => new(c, KvOpKind.Delete, k, null, null, call, long.MaxValue, false);
    private static KvOperation UnknownGet(int c, string k, string? read, long call) => new(c, KvOpKind.Get, k, null, read, call, long.MaxValue, false);

    /// <summary>Hand-written histories: name -> (history, expected verdict, key expected in a violation).</summary>
    private static readonly Dictionary<string, (KvOperation[] History, bool Linearizable, string? BadKey)> Cases = new()
    {
        ["empty history"] = ([], true, null),
        ["sequential put then get"] = ([Put(1, "x", "1", 0, 10), Get(1, "x", "1", 20, 30)], true, null),
        ["get of never-written key reads absent"] = ([Get(1, "x", null, 0, 10)], true, null),
        ["sequential overwrite then stale get"] =
            ([Put(1, "x", "1", 0, 10), Put(1, "x", "2", 20, 30), Get(1, "x", "1", 40, 50)], false, "x"),
        ["stale read after completed write (other client)"] =
            ([Put(1, "x", "1", 0, 10), Get(2, "x", null, 20, 30)], false, "x"),
        ["read of a value never written"] = ([Put(1, "x", "1", 0, 10), Get(2, "x", "zzz", 20, 30)], false, "x"),
        ["read of a value written only after the read returned"] =
            ([Get(2, "x", "1", 0, 10), Put(1, "x", "1", 20, 30)], false, "x"),
        ["read sees concurrent write's new value"] = ([Put(1, "x", "1", 0, 100), Get(2, "x", "1", 10, 20)], true, null),
        ["read sees concurrent write's old value"] =
            ([Put(1, "x", "0", 0, 5), Put(1, "x", "1", 10, 100), Get(2, "x", "0", 20, 30)], true, null),
        ["new value then old value during one write (real-time order)"] =
            ([Put(1, "x", "0", 0, 5), Put(1, "x", "1", 10, 100), Get(2, "x", "1", 20, 30), Get(3, "x", "0", 40, 50)], false, "x"),
        ["concurrent writes seen in either order by overlapping reads"] =
            ([Put(1, "x", "a", 0, 100), Put(2, "x", "b", 0, 100), Get(3, "x", "a", 10, 60), Get(4, "x", "b", 50, 90)], true, null),
        ["concurrent writes then reads disagree on the final value"] =
            ([Put(1, "x", "a", 0, 10), Put(2, "x", "b", 0, 10), Get(3, "x", "a", 20, 30), Get(4, "x", "b", 40, 50)], false, "x"),
        ["unknown write observed later"] =
            ([Put(1, "x", "1", 0, 10), UnknownPut(1, "x", "2", 20), Get(2, "x", "2", 1000, 1010)], true, null),
        ["unknown write never observed"] =
            ([Put(1, "x", "1", 0, 10), UnknownPut(1, "x", "2", 20), Get(2, "x", "1", 1000, 1010)], true, null),
        ["unknown write observed then lost"] =
            ([Put(1, "x", "1", 0, 10), UnknownPut(1, "x", "2", 20), Get(2, "x", "2", 30, 40), Get(2, "x", "1", 50, 60)], false, "x"),
        ["unknown write observed before it was called"] =
            ([Get(2, "x", "2", 0, 10), UnknownPut(1, "x", "2", 20)], false, "x"),
        ["unknown write cannot be linearized twice"] =
            ([UnknownPut(1, "x", "2", 0), Get(2, "x", "2", 10, 20), Put(3, "x", "3", 30, 40), Get(2, "x", "2", 50, 60)], false, "x"),
        ["many unknown writes, one observed"] =
            ([Put(1, "x", "0", 0, 5), UnknownPut(2, "x", "a", 6), UnknownPut(3, "x", "b", 7), UnknownDel(4, "x", 8),
              UnknownPut(5, "x", "c", 9), Get(6, "x", "b", 50, 60), Get(6, "x", "b", 70, 80)], true, null),
        ["unknown delete explains absent read"] =
            ([Put(1, "x", "1", 0, 10), UnknownDel(1, "x", 20), Get(2, "x", null, 30, 40)], true, null),
        ["unknown get is dropped"] = ([Put(1, "x", "1", 0, 10), UnknownGet(2, "x", "garbage", 20)], true, null),
        ["delete then get absent"] = ([Put(1, "x", "1", 0, 10), Del(1, "x", 20, 30), Get(2, "x", null, 40, 50)], true, null),
        ["delete then get old value"] =
            ([Put(1, "x", "1", 0, 10), Del(1, "x", 20, 30), Get(2, "x", "1", 40, 50)], false, "x"),
        ["delete then put again"] =
            ([Put(1, "x", "1", 0, 10), Del(1, "x", 20, 30), Put(1, "x", "1", 40, 50), Get(2, "x", "1", 60, 70)], true, null),
        ["same value written twice"] =
            ([Put(1, "x", "1", 0, 10), Put(1, "x", "2", 20, 30), Put(1, "x", "1", 40, 50), Get(2, "x", "1", 60, 70)], true, null),
        ["read-your-write across clients sees write"] =
            ([Put(1, "x", "1", 0, 10), Get(2, "x", "1", 20, 30)], true, null),
        ["read-your-write across clients misses write"] =
            ([Put(1, "x", "0", 0, 5), Put(1, "x", "1", 10, 20), Get(2, "x", "0", 30, 40)], false, "x"),
        ["touching intervals count as concurrent"] =
            ([Put(1, "x", "1", 0, 10), Get(2, "x", null, 10, 20)], true, null),
        ["keys are independent"] =
            ([Put(1, "a", "1", 0, 10), Put(2, "b", "1", 0, 10), Get(3, "a", "1", 20, 30), Get(3, "b", null, 20, 30)], false, "b"),
        ["same value on different keys does not leak"] =
            ([Put(1, "a", "v", 0, 10), Get(2, "b", "v", 20, 30)], false, "b"),
    };

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (string name in Cases.Keys)
        {
            data.Add(name);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void HandWrittenHistories(string name)
    {
        var (history, expected, badKey) = Cases[name];
        LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
        output.WriteLine(result.Explanation);
        Assert.False(result.TimedOut);
        Assert.Equal(expected, result.IsLinearizable);
        if (!expected)
        {
            Assert.Equal(badKey, result.Key);
            Assert.Contains($"\"{badKey}\"", result.Explanation);
            Assert.Contains("client ", result.Explanation); // names at least one op
        }
    }

    [Fact]
    public void ViolationExplanationNamesTheStaleRead()
    {
        KvOperation[] history = [Put(1, "k", "0", 0, 5), Put(7, "k", "1", 10, 20), Get(9, "k", "0", 30, 40)];
        LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
        output.WriteLine(result.Explanation);
        Assert.False(result.IsLinearizable);
        Assert.Contains("client 9 Get(\"k\") -> \"0\" [30, 40]", result.Explanation);
        Assert.Contains("client 7 Put(\"k\", \"1\") [10, 20]", result.Explanation);
    }

    public static TheoryData<string, KvOperation?> InvalidInputs() => new()
    {
        { "null op", null },
        { "put with null value", new KvOperation(1, KvOpKind.Put, "x", null, null, 0, 1, true) },
        { "return before call", new KvOperation(1, KvOpKind.Get, "x", null, null, 10, 5, true) },
        { "null key", new KvOperation(1, KvOpKind.Get, null!, null, null, 0, 1, true) },
        { "bad kind", new KvOperation(1, (KvOpKind)42, "x", null, null, 0, 1, true) },
    };

    [Theory]
    [MemberData(nameof(InvalidInputs))]
    public void RejectsMalformedOperations(string name, KvOperation? op)
    {
        Assert.False(string.IsNullOrEmpty(name));
        Assert.Throws<ArgumentException>(() => LinearizabilityChecker.Check([op!], Budget));
    }

    [Fact]
    public void RejectsNullHistoryAndNegativeBudget()
    {
        Assert.Throws<ArgumentNullException>(() => LinearizabilityChecker.Check(null!, Budget));
        Assert.Throws<ArgumentOutOfRangeException>(() => LinearizabilityChecker.Check([], TimeSpan.FromSeconds(-5)));
        Assert.True(LinearizabilityChecker.Check([Get(1, "x", null, 0, 1)], Timeout.InfiniteTimeSpan).IsLinearizable);
    }

    [Fact]
    public void ExhaustedBudgetReportsTimeoutAsPass()
    {
        List<KvOperation> history = RegisterSimulation.Generate(seed: 3, clients: 6, keys: 4, ops: 800);
        LinearizabilityResult result = LinearizabilityChecker.Check(history, TimeSpan.Zero);
        output.WriteLine(result.Explanation);
        Assert.True(result.TimedOut);
        Assert.True(result.IsLinearizable);
        Assert.NotNull(result.Key);
    }

    public static TheoryData<int, int, int, int> RandomShapes() => new()
    {
        // seed, clients, keys, ops
        { 1, 8, 20, 4000 },
        { 2, 5, 20, 3000 },
        { 3, 8, 1, 2500 },   // one hot key with thousands of ops
        { 4, 4, 3, 5000 },
    };

    [Theory]
    [MemberData(nameof(RandomShapes))]
    public void RandomAtomicRegisterHistoryIsLinearizableAndFast(int seed, int clients, int keys, int ops)
    {
        List<KvOperation> history = RegisterSimulation.Generate(seed, clients, keys, ops);
        Assert.Contains(history, o => !o.Completed && o.Kind != KvOpKind.Get); // exercises unknown outcomes

        var sw = Stopwatch.StartNew();
        LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
        sw.Stop();
        output.WriteLine($"{sw.ElapsedMilliseconds} ms: {result.Explanation}");

        Assert.False(result.TimedOut, result.Explanation);
        Assert.True(result.IsLinearizable, result.Explanation);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(3), $"took {sw.Elapsed}");
    }

    [Theory]
    [MemberData(nameof(RandomShapes))]
    public void RandomHistoryWithOneStaleReadFails(int seed, int clients, int keys, int ops)
    {
        List<KvOperation> history = RegisterSimulation.Generate(seed, clients, keys, ops);
        (int index, string staleValue) = RegisterSimulation.FindStaleReadCorruption(history);
        KvOperation victim = history[index];
        history[index] = victim with { Output = staleValue };

        var sw = Stopwatch.StartNew();
        LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
        sw.Stop();
        output.WriteLine($"{sw.ElapsedMilliseconds} ms: {result.Explanation}");

        Assert.False(result.TimedOut, result.Explanation);
        Assert.False(result.IsLinearizable);
        Assert.Equal(victim.Key, result.Key);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
    }

    [Fact]
    public void RandomHistoryWithOneReadOfUnwrittenValueFails()
    {
        List<KvOperation> history = RegisterSimulation.Generate(seed: 5, clients: 8, keys: 20, ops: 4000);
        int index = history.FindIndex(history.Count / 2, o => o.Kind == KvOpKind.Get && o.Completed);
        history[index] = history[index] with { Output = "never-written" };

        LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
        output.WriteLine(result.Explanation);
        Assert.False(result.IsLinearizable);
        Assert.Equal(history[index].Key, result.Key);
        Assert.Contains("never-written", result.Explanation);
    }

    /// <summary>
    /// Differential test: the checker (with its memo and search reductions) must agree with a plain brute-force
    /// enumeration of linearization orders on many small random histories, including ones with repeated values,
    /// deletes, unknown outcomes and touching intervals.
    /// </summary>
    [Theory]
    [InlineData(11, 1500, 7)]
    [InlineData(12, 1500, 8)]
    public void AgreesWithBruteForceOnSmallRandomHistories(int seed, int histories, int maxOps)
    {
        var rng = new Random(seed);
        string?[] values = [null, "a", "b", "c"];
        int linearizable = 0, violations = 0;
        for (int h = 0; h < histories; h++)
        {
            int count = rng.Next(1, maxOps + 1);
            var history = new List<KvOperation>(count);
            for (int i = 0; i < count; i++)
            {
                long call = rng.Next(0, 30);
                long ret = call + rng.Next(0, 12);
                bool unknown = rng.Next(100) < 20;
                int r = rng.Next(100);
                var kind = r < 40 ? KvOpKind.Put : r < 85 ? KvOpKind.Get : KvOpKind.Delete;
                string? value = kind == KvOpKind.Put ? values[rng.Next(1, values.Length)] : null;
                string? read = kind == KvOpKind.Get ? values[rng.Next(values.Length)] : null;
                history.Add(new KvOperation(rng.Next(4), kind, "k", value, read, call, unknown ? long.MaxValue : ret, !unknown));
            }

            bool expected = BruteForce.IsLinearizable(history);
            LinearizabilityResult result = LinearizabilityChecker.Check(history, Budget);
            Assert.False(result.TimedOut);
            if (expected != result.IsLinearizable)
            {
                Assert.Fail($"history #{h} brute force says {expected}, checker says {result.IsLinearizable}: " +
                            string.Join(" | ", history) + " :: " + result.Explanation);
            }
            if (expected)
            {
                linearizable++;
            }
            else
            {
                violations++;
            }
        }
        output.WriteLine($"{linearizable} linearizable, {violations} not");
        // The generator must exercise both verdicts substantially for the comparison to mean anything.
        Assert.True(linearizable > histories / 10 && violations > histories / 10, $"{linearizable} vs {violations}");
    }

    /// <summary>Reference semantics, written independently of the checker: try every order and every subset.</summary>
    private static class BruteForce
    {
        public static bool IsLinearizable(List<KvOperation> history)
        {
            // Unknown Gets say nothing; unknown writes may or may not be included.
            var ops = history.Where(o => o.Completed || o.Kind != KvOpKind.Get).ToList();
            var done = new bool[ops.Count];
            return Extend(ops, done, null);
        }

        private static bool Extend(List<KvOperation> ops, bool[] done, string? state)
        {
            if (Enumerable.Range(0, ops.Count).All(i => done[i] || !ops[i].Completed))
            {
                return true;
            }
            for (int i = 0; i < ops.Count; i++)
            {
                if (done[i])
                {
                    continue;
                }
                // i may go next only if every op that returned strictly before i was called is already placed.
                bool ready = true;
                for (int j = 0; j < ops.Count && ready; j++)
                {
                    ready = done[j] || j == i || !ops[j].Completed || ops[j].Return >= ops[i].Call;
                }
                if (!ready)
                {
                    continue;
                }
                KvOperation op = ops[i];
                string? next = op.Kind switch
                {
                    KvOpKind.Put => op.Value,
                    KvOpKind.Delete => null,
                    _ => state,
                };
                if (op.Kind == KvOpKind.Get && op.Output != state)
                {
                    continue;
                }
                done[i] = true;
                bool ok = Extend(ops, done, next);
                done[i] = false;
                if (ok)
                {
                    return true;
                }
            }
            return false;
        }
    }

    /// <summary>
    /// Clients issuing operations against one atomic map. Each op takes effect at a random instant inside
    /// [Call, Return], so the history is linearizable by construction. Some writes time out (outcome unknown),
    /// some of those took effect and some never did; some Gets time out too.
    /// </summary>
    private static class RegisterSimulation
    {
        private enum Phase { Call, Effect, Return }

        private sealed class Pending
        {
            public required KvOpKind Kind;
            public required string Key;
            public string? Value;
            public string? Output;
            public long Call;
            public bool Unknown;
        }

        public static List<KvOperation> Generate(int seed, int clients, int keys, int ops)
        {
            var rng = new Random(seed);
            var map = new Dictionary<string, string>();
            var history = new List<KvOperation>(ops);
            var queue = new PriorityQueue<(int Client, Phase Phase), (long Time, long Seq)>();
            var pending = new Pending?[clients];
            long seq = 0;
            int issued = 0, valueCounter = 0;
            for (int c = 0; c < clients; c++)
            {
                queue.Enqueue((c, Phase.Call), (rng.Next(0, 10), seq++));
            }

            // Bounded: each op passes through at most three phases.
            while (queue.TryDequeue(out var ev, out var at))
            {
                long now = at.Time;
                int c = ev.Client;
                switch (ev.Phase)
                {
                    case Phase.Call:
                        if (issued >= ops)
                        {
                            break; // this client is done
                        }
                        issued++;
                        int r = rng.Next(100);
                        var kind = r < 40 ? KvOpKind.Put : r < 85 ? KvOpKind.Get : KvOpKind.Delete;
                        var p = new Pending
                        {
                            Kind = kind,
                            Key = "k" + rng.Next(keys),
                            Value = kind == KvOpKind.Put ? "v" + valueCounter++ : null,
                            Call = now,
                            Unknown = rng.Next(100) < 5,
                        };
                        pending[c] = p;
                        if (p.Unknown && rng.Next(2) == 0)
                        {
                            // Lost before taking effect: only a timeout is ever seen.
                            queue.Enqueue((c, Phase.Return), (now + 50, seq++));
                        }
                        else
                        {
                            queue.Enqueue((c, Phase.Effect), (now + rng.Next(0, 20), seq++));
                        }
                        break;
                    case Phase.Effect:
                        Pending e = pending[c]!;
                        switch (e.Kind)
                        {
                            case KvOpKind.Put: map[e.Key] = e.Value!; break;
                            case KvOpKind.Delete: map.Remove(e.Key); break;
                            default: e.Output = map.GetValueOrDefault(e.Key); break;
                        }
                        queue.Enqueue((c, Phase.Return), (now + (e.Unknown ? 50 : rng.Next(0, 20)), seq++));
                        break;
                    case Phase.Return:
                        Pending d = pending[c]!;
                        history.Add(d.Unknown
                            ? new KvOperation(c, d.Kind, d.Key, d.Value, d.Output, d.Call, long.MaxValue, false)
                            : new KvOperation(c, d.Kind, d.Key, d.Value, d.Output, d.Call, now, true));
                        pending[c] = null;
                        queue.Enqueue((c, Phase.Call), (now + rng.Next(1, 10), seq++));
                        break;
                }
            }
            return history;
        }

        /// <summary>
        /// Finds a completed Get G (in the second half of the history) and a value v, written only by a completed
        /// Put P, such that another completed write W on the same key lies strictly between P and G in real time.
        /// Then G reading v is impossible in any linearization, so the corruption is a guaranteed violation that
        /// only the search (not the unwritten-value precheck) can detect.
        /// </summary>
        public static (int Index, string StaleValue) FindStaleReadCorruption(List<KvOperation> history)
        {
            for (int g = history.Count / 2; g < history.Count; g++)
            {
                KvOperation get = history[g];
                if (get.Kind != KvOpKind.Get || !get.Completed)
                {
                    continue;
                }
                var writes = history.Where(o => o.Key == get.Key && o.Completed && o.Kind != KvOpKind.Get && o.Return < get.Call).ToList();
                foreach (KvOperation w in writes)
                {
                    foreach (KvOperation p in writes)
                    {
                        if (p.Kind == KvOpKind.Put && p.Return < w.Call && p.Value != get.Output && p.Value != w.Value)
                        {
                            return (g, p.Value!);
                        }
                    }
                }
            }
            throw new InvalidOperationException("no stale-read corruption point found; enlarge the history");
        }
    }
}
