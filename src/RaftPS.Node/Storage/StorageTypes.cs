using RaftPS.Consensus;

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
}

/// <summary>What <see cref="RaftStorage.Open"/> found on disk: the consensus core restarts from this.</summary>
/// <param name="HardState">The last durable hard state (term, vote, commit).</param>
/// <param name="Snapshot">The newest usable snapshot, or null if there is none.</param>
/// <param name="Entries">Log entries after the snapshot, contiguous from snapshot index + 1.</param>
/// <param name="Warnings">Recoverable problems that were repaired (torn tail, corrupt snapshot that could be skipped).</param>
public sealed record RecoveredState(HardState HardState, Snapshot? Snapshot, IReadOnlyList<Entry> Entries, IReadOnlyList<string> Warnings)
{
    /// <summary>Index of the last entry in the recovered log (the snapshot counts as an entry at its index).</summary>
    public ulong LastIndex => Entries.Count > 0 ? Entries[^1].Index : Snapshot?.Index ?? 0;
}

/// <summary>
/// Damage inside the write-ahead log that cannot be a torn write at its tail. The node must not start on
/// this data: dropping the damaged part could lose committed entries.
/// </summary>
public sealed class WalCorruptionException : Exception
{
    public WalCorruptionException(string file, long offset, string reason)
        : base($"write-ahead log corrupt in '{file}' at byte offset {offset}: {reason}")
    {
        File = file;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>Full path of the damaged segment file.</summary>
    public string File { get; }

    /// <summary>Byte offset in <see cref="File"/> of the first damaged record.</summary>
    public long Offset { get; }

    public string Reason { get; }
}

/// <summary>
/// The data directory cannot be recovered as a whole, although no single WAL record is damaged: for example the
/// newest snapshot is corrupt and the log no longer reaches back to an older one, or the log ends before the
/// persisted commit index.
/// </summary>
public sealed class StorageRecoveryException : Exception
{
    public StorageRecoveryException(string message) : base(message) { }
    public StorageRecoveryException(string message, Exception inner) : base(message, inner) { }
}
