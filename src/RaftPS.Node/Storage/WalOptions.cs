namespace RaftPS.Node.Storage;

/// <summary>Tuning for the write-ahead log.</summary>
public sealed record WalOptions
{
    /// <summary>A segment is sealed and a new one started once it reaches this size (a single batch may overshoot it).</summary>
    public long SegmentBytes { get; init; } = 64L << 20;

    /// <summary>When false every fsync is skipped: only for tests and benchmarks, a machine crash may then lose or tear data.</summary>
    public bool Fsync { get; init; } = true;

    /// <summary>
    /// Reserve segment space (fallocate) a few MiB ahead of the writes, so that most appends do not change the file
    /// size and fdatasync needs no metadata flush. The reserved tail reads as zeros, which recovery treats as the end
    /// of the log; a segment is cut to its records when the next one starts.
    /// </summary>
    public bool Preallocate { get; init; } = true;

    /// <summary>Test seam for a disk model (see <see cref="ISyncHooks"/>); null in the node.</summary>
    internal ISyncHooks? SyncHooks { get; init; }
}
