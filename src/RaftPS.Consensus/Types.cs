namespace RaftPS.Consensus;

/// <summary>What a log entry carries. A no-op is appended by every new leader (Raft thesis §6.4).</summary>
public enum EntryType : byte
{
    Normal = 0,
    Noop = 1,
    ConfChange = 2,
}

/// <summary>One log entry. <see cref="Data"/> is opaque to the core.</summary>
public sealed record Entry(ulong Term, ulong Index, EntryType Type, byte[] Data)
{
    public static readonly byte[] Empty = [];
    public int Size => Data.Length + 24;
    public override string ToString() => $"{Index}@{Term}{(Type == EntryType.Normal ? "" : ":" + Type)}";
}

/// <summary>The state that must be on stable storage before a node answers anyone (paper Fig. 2).</summary>
public readonly record struct HardState(ulong Term, ulong Vote, ulong Commit)
{
    public static readonly HardState Empty = default;
    public bool IsEmpty => Term == 0 && Vote == 0 && Commit == 0;
}

/// <summary>
/// Which servers vote and which only learn. Outgoing voters are non-empty only in a joint configuration (paper §6).
/// <see cref="Context"/> is opaque to the core and travels with the configuration (entries and snapshots): the node keeps
/// each member's address there, so addresses follow the replicated configuration.
/// </summary>
public sealed record ConfState(
    IReadOnlyList<ulong> Voters,
    IReadOnlyList<ulong> Learners,
    IReadOnlyList<ulong> VotersOutgoing,
    IReadOnlyList<ulong> LearnersNext,
    bool AutoLeave = false,
    byte[]? Context = null)
{
    public static ConfState Of(params ulong[] voters) => new(voters, [], [], []);
    public static readonly ConfState Empty = new([], [], [], []);
}

/// <summary>Where a snapshot ends and the configuration in force there (thesis §5.1).</summary>
public sealed record SnapshotMetadata(ulong Index, ulong Term, ConfState ConfState);

/// <summary>State machine image plus its metadata.</summary>
public sealed record Snapshot(SnapshotMetadata Metadata, byte[] Data)
{
    public ulong Index => Metadata.Index;
    public ulong Term => Metadata.Term;
}
