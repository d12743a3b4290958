using System.Diagnostics;
using System.Globalization;
using RaftPS.Client;

namespace RaftPS.Bench;

/// <summary>One operation of a phase: client to use, global op index, the calling logical client's random source.</summary>
public delegate Task BenchOperation(RaftClient client, long opIndex, Random random);

/// <summary>
/// Runs a fixed number of operations with N concurrent logical clients (async loops issuing ops back to back, sharing
/// the given RaftClient instances round-robin). Each op's start and end timestamps go into preallocated arrays indexed
/// by op number, so recording costs no allocation and no lock.
/// </summary>
public sealed class LoadPhase
{
    private const int MaxErrorSamples = 5;

    private readonly string _name;
    private readonly long _ops;
    private readonly int _clients;
    private readonly long[] _starts;
    private readonly long[] _ends;
    private readonly List<string> _errorSamples = new();
    private long _next;
    private long _completed;
    private long _errors;
    private long _firstStart;
    private long _lastEnd;

    public LoadPhase(string name, long ops, int clients)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ops);
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        _name = name;
        _ops = ops;
        _clients = (int)Math.Min(clients, Math.Max(1, ops));
        _starts = new long[ops];
        _ends = new long[ops];
    }

    public string Name => _name;
    public long Ops => _ops;
    public int Clients => _clients;
    /// <summary>Operations finished so far (successfully or not).</summary>
    public long Completed => Interlocked.Read(ref _completed);
    public long Errors => Interlocked.Read(ref _errors);
    public IReadOnlyList<string> ErrorSamples { get { lock (_errorSamples) return _errorSamples.ToArray(); } }

    /// <summary>Runs the phase; ends early (without throwing) when <paramref name="ct"/> fires.</summary>
    public async Task<PhaseResult> RunAsync(IReadOnlyList<RaftClient> pool, BenchOperation operation, bool progress, CancellationToken ct)
    {
        if (_ops == 0) return Result();
        _firstStart = Stopwatch.GetTimestamp();
        using var stopProgress = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reporter = progress ? ReportProgressAsync(stopProgress.Token) : Task.CompletedTask;
        var loops = new Task[_clients];
        for (int c = 0; c < _clients; c++)
        {
            var client = pool[c % pool.Count];
            // Seeded from the phase name and client number so reruns choose the same keys (string.GetHashCode is per process).
            var random = new Random(unchecked(StableSeed(_name) * 1_000_003 + c));
            // Task.Run so every loop starts on the pool at once rather than running its first op inline on this thread.
            loops[c] = Task.Run(() => ClientLoopAsync(client, operation, random, ct), CancellationToken.None);
        }
        await Task.WhenAll(loops).ConfigureAwait(false);
        stopProgress.Cancel();
        await reporter.ConfigureAwait(false);
        return Result();
    }

    private async Task ClientLoopAsync(RaftClient client, BenchOperation operation, Random random, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            long i = Interlocked.Increment(ref _next) - 1;
            if (i >= _ops) break;
            long start = Stopwatch.GetTimestamp();
            _starts[i] = start;
            try
            {
                await operation(client, i, random).ConfigureAwait(false);
                long end = Stopwatch.GetTimestamp();
                _ends[i] = end;
                InterlockedMax(ref _lastEnd, end);
            }
            catch (Exception e) when (e is RaftClientException or BenchDataException or ObjectDisposedException)
            {
                // An end of 0 marks the op failed; failures count as errors, not latencies.
                Interlocked.Increment(ref _errors);
                lock (_errorSamples)
                    if (_errorSamples.Count < MaxErrorSamples) _errorSamples.Add($"op {i}: {e.GetType().Name}: {e.Message}");
            }
            Interlocked.Increment(ref _completed);
        }
    }

    private static int StableSeed(string text)
    {
        int h = 17;
        foreach (char ch in text) h = unchecked(h * 31 + ch);
        return h;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long prior = Interlocked.CompareExchange(ref target, value, seen);
            if (prior == seen) return;
            seen = prior;
        }
    }

    private async Task ReportProgressAsync(CancellationToken ct)
    {
        long lastDone = 0;
        long lastTs = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                long done = Completed, ts = Stopwatch.GetTimestamp();
                double rate = (done - lastDone) / Stopwatch.GetElapsedTime(lastTs, ts).TotalSeconds;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"bench: {_name}: {done}/{_ops} ops, {rate:0} ops/s, {Errors} errors"));
                lastDone = done;
                lastTs = ts;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private PhaseResult Result() => new(_name, _starts, _ends, Completed, Errors, _firstStart, Math.Max(_lastEnd, _firstStart), ErrorSamples);
}

/// <summary>A read did not find a key the bench wrote before (counts as an error).</summary>
public sealed class BenchDataException(string message) : Exception(message);

/// <summary>Timestamps of one phase and the statistics derived from them.</summary>
public sealed class PhaseResult
{
    private readonly long[] _starts;
    private readonly long[] _ends;

    internal PhaseResult(string name, long[] starts, long[] ends, long completed, long errors, long firstStart, long lastEnd, IReadOnlyList<string> errorSamples)
    {
        Name = name;
        _starts = starts;
        _ends = ends;
        Completed = completed;
        Errors = errors;
        FirstStart = firstStart;
        LastEnd = lastEnd;
        ErrorSamples = errorSamples;
    }

    public string Name { get; }
    public long Completed { get; }
    public long Errors { get; }
    public long Succeeded => Completed - Errors;
    public long FirstStart { get; }
    public long LastEnd { get; }
    public IReadOnlyList<string> ErrorSamples { get; }
    /// <summary>From the first start to the last successful completion.</summary>
    public double Seconds => Stopwatch.GetElapsedTime(FirstStart, LastEnd).TotalSeconds;
    public double OpsPerSecond => Seconds > 0 ? Succeeded / Seconds : 0;

    /// <summary>Latencies of the successful ops in milliseconds, sorted ascending.</summary>
    public double[] SortedLatenciesMs()
    {
        var result = new double[Succeeded];
        int n = 0;
        double scale = 1000.0 / Stopwatch.Frequency;
        for (long i = 0; i < _ends.Length && n < result.Length; i++)
            if (_ends[i] != 0) result[n++] = (_ends[i] - _starts[i]) * scale;
        Array.Resize(ref result, n);
        Array.Sort(result);
        return result;
    }

    /// <summary>Nearest-rank percentile (p in 0..1) of sorted data; 0 for no data.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        if (sorted.Length == 0) return 0;
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Milliseconds from <paramref name="since"/> to the first successful completion of an op that started at or after it.</summary>
    public double? FirstSuccessStartedAfterMs(long since)
    {
        long best = long.MaxValue;
        for (long i = 0; i < _ends.Length; i++)
            if (_ends[i] != 0 && _starts[i] >= since && _ends[i] < best) best = _ends[i];
        return best == long.MaxValue ? null : Stopwatch.GetElapsedTime(since, best).TotalMilliseconds;
    }

    /// <summary>Longest interval without any successful completion, from <paramref name="since"/> on (the unavailability clients saw).</summary>
    public double LongestGapAfterMs(long since)
    {
        var ends = _ends.Where(e => e != 0).Order().ToArray();
        long prev = since, gap = 0;
        foreach (var e in ends)
        {
            if (e < since) continue;
            gap = Math.Max(gap, e - prev);
            prev = e;
        }
        return gap * 1000.0 / Stopwatch.Frequency;
    }
}
