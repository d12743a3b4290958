namespace RaftPS.History;

/// <summary>A time window [Start, End] of one key's history that cannot be linearized on its own.</summary>
internal sealed record FailingWindow(long Start, long End, IReadOnlyList<KvOperation> Operations);
