using RaftPS.Client;

namespace RaftPS;

/// <summary>One replica's state digest compared with the leader's at a checkpoint (Test-RaftReplica).</summary>
public sealed class ReplicaState
{
    public required string Id { get; init; }
    public required string Endpoint { get; init; }
    /// <summary>Agrees; Differs (its state drifted from the leader's); Behind (had not reached the checkpoint); Unreachable.</summary>
    public required string State { get; init; }
    /// <summary>The checkpoint's log index, where the leader hashed its state.</summary>
    public ulong CheckpointIndex { get; init; }
    /// <summary>The leader that appended the checkpoint.</summary>
    public required string Leader { get; init; }
    /// <summary>Index of this replica's latest digest (the checkpoint's, or a later one after it compared itself).</summary>
    public ulong DigestIndex { get; init; }
    /// <summary>This replica's latest digest, 32 hex digits.</summary>
    public string? Digest { get; init; }
    /// <summary>Why it differs or is behind.</summary>
    public string? Detail { get; init; }

    public bool Agrees => State == nameof(ReplicaDigestState.Agrees);

    internal static ReplicaState From(ReplicaCheck check, ReplicaDigest r) => new()
    {
        Id = r.Id,
        Endpoint = r.Endpoint,
        State = r.State.ToString(),
        CheckpointIndex = check.Index,
        Leader = check.Leader,
        DigestIndex = r.DigestIndex,
        Digest = r.Digest,
        Detail = r.Detail,
    };

    public override string ToString() => $"{Id} {State}";
}
