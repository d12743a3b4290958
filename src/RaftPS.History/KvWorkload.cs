using System.Collections.Concurrent;
using System.Diagnostics;

namespace RaftPS.History;

/// <summary>
/// A bounded concurrent read/write load against an <see cref="IKvTarget"/> that records every operation into an
/// <see cref="OperationHistory"/>: acknowledged ones with their call and return time, writes that may or may not
/// have happened as unknown (a timeout is not a failure), and certainly-refused ones not at all. Writes use unique
/// values, so reads identify the write they saw. Ledger keys are written once each; <see cref="StopAsync"/> reads
/// them all back (recording those reads too) and reports any acknowledged write that is gone.
/// </summary>
public sealed class KvWorkload : IAsyncDisposable
{
    private const int MaxErrors = 20;

    private readonly IKvTarget _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, string> _ledger = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _errors = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly int _firstOperation;
    private Task[] _workers = [];
    private WorkloadResult? _result;
    private long _acknowledged;
    private long _unknown;
    private long _notApplied;
    private long _reads;

    private KvWorkload(IKvTarget target, OperationHistory history, WorkloadOptions options)
    {
        _target = target;
        History = history;
        Options = options;
        _firstOperation = history.Count;
    }

    public WorkloadOptions Options { get; }
    public OperationHistory History { get; }
    /// <summary>Writes the store acknowledged so far.</summary>
    public long Acknowledged => Interlocked.Read(ref _acknowledged);
    /// <summary>Writes of unknown outcome so far.</summary>
    public long Unknown => Interlocked.Read(ref _unknown);
    /// <summary>Operations the store certainly refused so far (left out of the history).</summary>
    public long NotApplied => Interlocked.Read(ref _notApplied);
    /// <summary>Completed reads so far.</summary>
    public long Reads => Interlocked.Read(ref _reads);
    public bool IsRunning => _result is null && !_stop.IsCancellationRequested;
    /// <summary>The first error texts the target reported (at most 20).</summary>
    public IReadOnlyList<string> Errors => _errors.ToArray();

    /// <summary>Starts <see cref="WorkloadOptions.Clients"/> concurrent clients; they run until <see cref="StopAsync"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">options are out of range.</exception>
    public static KvWorkload Start(IKvTarget target, OperationHistory history, WorkloadOptions options)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var workload = new KvWorkload(target, history, options);
        workload._workers = Enumerable.Range(0, options.Clients)
            .Select(c => Task.Run(() => workload.ClientLoopAsync(c, workload._stop.Token)))
            .ToArray();
        return workload;
    }

    /// <summary>The key of register <paramref name="index"/>.</summary>
    public string RegisterKey(int index) => Options.KeyPrefix + "reg/" + index;

    /// <summary>
    /// Waits until at least <paramref name="count"/> writes have been acknowledged in total. Returns false on timeout
    /// (the cluster stopped acknowledging), true otherwise.
    /// </summary>
    public async Task<bool> WaitForAcknowledgedAsync(long count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = Stopwatch.StartNew();
        while (Acknowledged < count)
        {
            if (deadline.Elapsed >= timeout || !IsRunning)
            {
                return Acknowledged >= count;
            }
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Stops the clients (in-flight writes are recorded as unknown), then reads every key back linearizably,
    /// recording the reads, and compares the ledger. Idempotent: later calls return the same result. With
    /// <paramref name="readBack"/> false (cleanup after a failed drill, when the cluster may be down) nothing is read
    /// and every ledger key is reported unverified.
    /// </summary>
    public async Task<WorkloadResult> StopAsync(CancellationToken cancellationToken = default, bool readBack = true)
    {
        if (_result is not null)
        {
            return _result;
        }
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A worker that failed (a bug in the target) is reported, not rethrown: the history is still useful.
            NoteError("client failed: " + e.Message);
        }
        var (verified, lost, unverified) = readBack
            ? await ReadBackAsync(cancellationToken).ConfigureAwait(false)
            : (0, new List<string>(), _ledger.Keys.Order(StringComparer.Ordinal).ToList());
        _result = new WorkloadResult
        {
            Operations = History.Count - _firstOperation,
            Acknowledged = Acknowledged,
            Unknown = Unknown,
            NotApplied = NotApplied,
            Reads = Reads,
            LedgerWrites = _ledger.Count,
            Verified = verified,
            LostWrites = lost,
            Unverified = unverified,
            Errors = Errors,
            Duration = _clock.Elapsed,
        };
        return _result;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await Task.WhenAll(_workers).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Disposal only releases; StopAsync is where failures are reported.
        }
        _stop.Dispose();
    }

    private async Task ClientLoopAsync(int client, CancellationToken stop)
    {
        var random = new Random(unchecked(Options.Seed + client));
        for (long n = 0; !stop.IsCancellationRequested; n++)
        {
            int p = random.Next(100);
            if (p < Options.ReadPercent)
            {
                await ReadAsync(client, RegisterKey(random.Next(Options.RegisterKeys)), stop).ConfigureAwait(false);
            }
            else
            {
                bool ledger = p < Options.ReadPercent + Options.LedgerPercent;
                string key = ledger ? $"{Options.KeyPrefix}ledger/c{client}-{n}" : RegisterKey(random.Next(Options.RegisterKeys));
                await WriteAsync(client, key, $"c{client}-{n}", ledger, stop).ConfigureAwait(false);
            }
            if (Options.Pause > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(Options.Pause, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task WriteAsync(int client, string key, string value, bool ledger, CancellationToken stop)
    {
        long call = History.Now();
        KvCallResult r;
        try
        {
            r = await _target.PutAsync(key, value, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            r = new KvCallResult(KvCallOutcome.Unknown, null, "cancelled while in flight");
        }
        catch (Exception)
        {
            // The write may have been sent: record it as possibly applied before the failure propagates.
            History.AddUnknown(client, KvOpKind.Put, key, value, call);
            throw;
        }
        switch (r.Outcome)
        {
            case KvCallOutcome.Ok:
                History.AddCompleted(client, KvOpKind.Put, key, value, null, call);
                if (ledger)
                {
                    _ledger[key] = value;
                }
                Interlocked.Increment(ref _acknowledged);
                break;
            case KvCallOutcome.Unknown:
                History.AddUnknown(client, KvOpKind.Put, key, value, call);
                Interlocked.Increment(ref _unknown);
                NoteError(r.Error);
                break;
            default:
                Interlocked.Increment(ref _notApplied);
                NoteError(r.Error);
                break;
        }
    }

    /// <summary>One linearizable read, recorded when it completes; returns the result.</summary>
    private async Task<KvCallResult> ReadAsync(int client, string key, CancellationToken stop)
    {
        long call = History.Now();
        KvCallResult r;
        try
        {
            r = await _target.GetAsync(key, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return new KvCallResult(KvCallOutcome.Unknown, null, "cancelled");
        }
        if (r.Outcome == KvCallOutcome.Ok)
        {
            History.AddCompleted(client, KvOpKind.Get, key, null, r.Value, call);
            Interlocked.Increment(ref _reads);
        }
        else
        {
            // A read that did not complete carries no information (the checker would drop it anyway).
            NoteError(r.Error);
        }
        return r;
    }

    /// <summary>Reads every register and ledger key back, in parallel, retrying each until it answers or time runs out.</summary>
    private async Task<(int Verified, List<string> Lost, List<string> Unverified)> ReadBackAsync(CancellationToken cancellationToken)
    {
        var keys = new ConcurrentQueue<string>(
            Enumerable.Range(0, Options.RegisterKeys).Select(RegisterKey).Concat(_ledger.Keys.Order(StringComparer.Ordinal)));
        var lost = new ConcurrentBag<string>();
        var unverified = new ConcurrentBag<string>();
        int verified = 0;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.FinalReadTimeout);
        var readers = Enumerable.Range(0, Options.Clients).Select(i => Task.Run(async () =>
        {
            int client = Options.Clients + i; // readers are clients of their own in the history
            while (keys.TryDequeue(out string? key))
            {
                // Stays "not read" when the timeout passed before this key's turn: unverified, never lost.
                var r = new KvCallResult(KvCallOutcome.Unknown, null, "read-back timed out");
                while (!timeout.IsCancellationRequested)
                {
                    r = await ReadAsync(client, key, timeout.Token).ConfigureAwait(false);
                    if (r.Outcome == KvCallOutcome.Ok)
                    {
                        break;
                    }
                    await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                }
                if (!_ledger.TryGetValue(key, out string? acked))
                {
                    continue;
                }
                if (r.Outcome != KvCallOutcome.Ok)
                {
                    unverified.Add(key);
                }
                else if (r.Value != acked)
                {
                    lost.Add($"{key}: wrote {acked}, read {(r.Value ?? "<absent>")}");
                }
                else
                {
                    Interlocked.Increment(ref verified);
                }
            }
        })).ToArray();
        await Task.WhenAll(readers).ConfigureAwait(false);
        return (verified, lost.Order(StringComparer.Ordinal).ToList(), unverified.Order(StringComparer.Ordinal).ToList());
    }

    private void NoteError(string? error)
    {
        if (error is not null && _errors.Count < MaxErrors)
        {
            _errors.Enqueue(error);
        }
    }
}
