using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>Outcome of replaying the segments on top of a snapshot.</summary>
internal sealed class ReplayResult
{
    public required HardState HardState { get; init; }
    public required List<Entry> Entries { get; init; }

    /// <summary>Index and term of the last record as the writer saw it (may differ from the logical end when <see cref="NeedsReset"/>).</summary>
    public required ulong RawLastIndex { get; init; }
    public required ulong RawLastTerm { get; init; }

    /// <summary>
    /// The log on disk does not end at the snapshot point although no entry follows it (a crash between saving a
    /// snapshot and resetting the log): a segment starting at the snapshot must be written before new appends.
    /// </summary>
    public required bool NeedsReset { get; init; }

    /// <summary>Offsets of the entries in the last segment.</summary>
    public required PositionIndex Positions { get; init; }
    public required List<string> Warnings { get; init; }
}
