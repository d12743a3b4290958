using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

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
