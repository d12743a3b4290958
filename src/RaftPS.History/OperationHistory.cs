using System.Diagnostics;

namespace RaftPS.History;

/// <summary>
/// A thread-safe record of client operations on one clock: <see cref="Now"/> is microseconds since the history was
/// created (monotonic, <see cref="Stopwatch"/>), so every <see cref="KvOperation.Call"/> and
/// <see cref="KvOperation.Return"/> recorded through it is comparable. Many workers add to it concurrently; readers
/// get snapshots. Saved and loaded as JSON by <see cref="HistoryFile"/>.
/// </summary>
public sealed class OperationHistory
{
    private readonly object _gate = new();
    private readonly List<KvOperation> _operations = new();
    private readonly long _origin = Stopwatch.GetTimestamp();

    /// <summary>A new, empty history whose clock starts now.</summary>
    public OperationHistory() : this(DateTimeOffset.UtcNow, [])
    {
    }

    /// <summary>A history holding <paramref name="operations"/> (e.g. loaded from a file).</summary>
    /// <exception cref="ArgumentNullException">operations is null.</exception>
    public OperationHistory(DateTimeOffset startedAt, IEnumerable<KvOperation> operations)
    {
        ArgumentNullException.ThrowIfNull(operations);
        StartedAt = startedAt;
        _operations.AddRange(operations);
    }

    /// <summary>Wall-clock time at which this history's clock was zero.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Number of operations recorded so far.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _operations.Count;
            }
        }
    }

    /// <summary>A snapshot of the operations recorded so far, in the order they were added.</summary>
    public IReadOnlyList<KvOperation> Operations
    {
        get
        {
            lock (_gate)
            {
                return _operations.ToArray();
            }
        }
    }

    /// <summary>Microseconds since this history was created; the clock of every recorded call and return.</summary>
    public long Now() => (long)Stopwatch.GetElapsedTime(_origin).TotalMicroseconds;

    /// <summary>Adds one operation.</summary>
    /// <exception cref="ArgumentNullException">operation is null.</exception>
    public void Add(KvOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        lock (_gate)
        {
            _operations.Add(operation);
        }
    }

    /// <summary>Records an operation that completed: it took effect between <paramref name="call"/> and now.</summary>
    public KvOperation AddCompleted(int clientId, KvOpKind kind, string key, string? value, string? output, long call)
    {
        var op = new KvOperation(clientId, kind, key, value, output, call, Math.Max(call, Now()), true);
        Add(op);
        return op;
    }

    /// <summary>
    /// Records a write whose outcome is unknown (timed out, cancelled): it may take effect at any time after
    /// <paramref name="call"/>, or never (§ "Clients" in RAFT-PITFALLS: a timeout is not a failure).
    /// </summary>
    public KvOperation AddUnknown(int clientId, KvOpKind kind, string key, string? value, long call)
    {
        var op = new KvOperation(clientId, kind, key, value, null, call, long.MaxValue, false);
        Add(op);
        return op;
    }

    /// <summary>Writes this history to <paramref name="path"/> as JSON (see <see cref="HistoryFile"/>).</summary>
    public void Save(string path) => HistoryFile.Save(path, this);

    /// <summary>Reads a history written by <see cref="Save"/>.</summary>
    /// <exception cref="HistoryFormatException">The file is not a valid history.</exception>
    public static OperationHistory Load(string path) => HistoryFile.Load(path);
}
