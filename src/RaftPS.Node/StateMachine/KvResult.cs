using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// What applying a command produced. <see cref="Version"/> is the key's version after a successful write (the log
/// index), the current version (0 if absent) on <see cref="ReplyStatus.VersionMismatch"/>, else 0.
/// <see cref="Item"/> is the written item for Put and a successful CompareAndSet, otherwise null.
/// The byte arrays inside are shared with the state machine: callers must not modify them.
/// </summary>
public sealed record KvResult(ulong ClientId, ulong Sequence, ReplyStatus Status, ulong Version, KvItem? Item)
{
    // Value equality over the item's bytes: results of two replicas (or before/after a snapshot) compare equal.
    public bool Equals(KvResult? other) =>
        other is not null
        && ClientId == other.ClientId && Sequence == other.Sequence && Status == other.Status && Version == other.Version
        && ItemsEqual(Item, other.Item);

    public override int GetHashCode() => HashCode.Combine(ClientId, Sequence, Status, Version, Item?.Key, Item?.Version);

    internal static bool ItemsEqual(KvItem? a, KvItem? b) =>
        a is null ? b is null
        : b is not null && a.Version == b.Version && string.Equals(a.Key, b.Key, StringComparison.Ordinal)
          && a.Value.AsSpan().SequenceEqual(b.Value);
}
