using System.Net;
using RaftPS.Protocol;

namespace RaftPS.Client;

/// <summary>How one replica's state compared with the leader's at a checkpoint (see <see cref="RaftClient.VerifyReplicasAsync"/>).</summary>
public enum ReplicaDigestState : byte
{
    /// <summary>Hashed the same state as the leader at the checkpoint.</summary>
    Agrees,
    /// <summary>Its state differs from the leader's at the same index: it drifted.</summary>
    Differs,
    /// <summary>Answered, but had not applied the checkpoint before the wait ended (or installed a snapshot past it).</summary>
    Behind,
    /// <summary>Did not answer.</summary>
    Unreachable,
}

/// <summary>One member's digest at the checkpoint.</summary>
public sealed record ReplicaDigest(string Id, string Endpoint, ReplicaDigestState State, ulong DigestIndex, string? Digest, string? Detail);

/// <summary>The outcome of <see cref="RaftClient.VerifyReplicasAsync"/>: the leader's digest at <see cref="Index"/> and every member's.</summary>
public sealed record ReplicaCheck(string Leader, ulong Index, string Digest, IReadOnlyList<ReplicaDigest> Replicas)
{
    /// <summary>No replica differs (some may be behind or unreachable; see <see cref="Complete"/>).</summary>
    public bool Consistent => Replicas.All(r => r.State != ReplicaDigestState.Differs);

    /// <summary>Every member answered and agrees.</summary>
    public bool Complete => Replicas.All(r => r.State == ReplicaDigestState.Agrees);
}

public sealed partial class RaftClient
{
    /// <summary>
    /// Asks the leader for a digest checkpoint and returns its status once it has hashed its state there:
    /// <see cref="NodeStatus.DigestIndex"/> and <see cref="NodeStatus.Digest"/> are the checkpoint's. Needs the admin
    /// credential on a keyed cluster (it appends to the log).
    /// </summary>
    public async Task<NodeStatus> CheckpointAsync(CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Checkpoint }, Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        if (reply.Status != ReplyStatus.Ok) throw ErrorFor(reply, "checkpoint");
        return reply.NodeStatus is { Digest: not null } status
            ? status
            : throw new RaftClientException("the leader answered a checkpoint request without its digest");
    }

    /// <summary>
    /// Checks that every replica holds the same state: appends a checkpoint, then a second one that carries the leader's
    /// digest at the first (so each replica also compares itself and reports drift in its status), and waits up to
    /// <paramref name="wait"/> for every member to hash the first checkpoint. Replicas whose digest there differs from
    /// the leader's, or that found a mismatch themselves, are <see cref="ReplicaDigestState.Differs"/>.
    /// </summary>
    public async Task<ReplicaCheck> VerifyReplicasAsync(TimeSpan wait, CancellationToken cancellationToken = default)
    {
        var first = await CheckpointAsync(cancellationToken).ConfigureAwait(false);
        var second = await CheckpointAsync(cancellationToken).ConfigureAwait(false);
        ulong index = first.DigestIndex;
        string digest = first.Digest!;
        var members = second.Members.Count > 0 ? second.Members : first.Members;
        var until = DateTime.UtcNow + wait;
        var results = new Dictionary<string, ReplicaDigest>(StringComparer.Ordinal);
        while (true)
        {
            var pending = members.Where(m => results.GetValueOrDefault(m.Id)?.State is not (ReplicaDigestState.Agrees or ReplicaDigestState.Differs)).ToList();
            if (pending.Count == 0) break;
            var checks = await Task.WhenAll(pending.Select(m => CheckReplicaAsync(m, index, digest, cancellationToken))).ConfigureAwait(false);
            foreach (var c in checks) results[c.Id] = c;
            if (DateTime.UtcNow >= until || checks.All(c => c.State is ReplicaDigestState.Agrees or ReplicaDigestState.Differs)) break;
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
        }
        return new ReplicaCheck(first.Id, index, digest, members.Select(m => results[m.Id]).ToList());
    }

    private async Task<ReplicaDigest> CheckReplicaAsync(MemberInfo member, ulong index, string digest, CancellationToken ct)
    {
        NodeStatus status;
        try
        {
            var ep = ClusterDefinition.ParseEndpoint(member.Endpoint);
            long budget = Math.Min(_deadlineMs, Math.Max(1, (long)_options.StatusTimeout.TotalMilliseconds));
            status = await StatusAsync(ep, budget, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RaftClientException or ClusterDefinitionException)
        {
            return new ReplicaDigest(member.Id, member.Endpoint, ReplicaDigestState.Unreachable, 0, null, e.Message);
        }
        var state = status.DigestMismatch is not null ? ReplicaDigestState.Differs
            : status.DigestIndex == index ? (string.Equals(status.Digest, digest, StringComparison.Ordinal) ? ReplicaDigestState.Agrees : ReplicaDigestState.Differs)
            // Past the first checkpoint: the second one made it compare itself with the leader's digest there.
            : status.DigestVerifiedIndex >= index ? ReplicaDigestState.Agrees
            : ReplicaDigestState.Behind;
        string? detail = state switch
        {
            ReplicaDigestState.Differs => status.DigestMismatch ?? $"digest at {index} is {status.Digest}, the leader's {digest}",
            ReplicaDigestState.Behind => $"latest digest at index {status.DigestIndex}, applied {status.AppliedIndex}",
            _ => null,
        };
        return new ReplicaDigest(member.Id, member.Endpoint, state, status.DigestIndex, status.Digest, detail);
    }
}
