using System.Net;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Client;

/// <summary>
/// Settings of a <see cref="RaftClient"/>. The cluster name must match the nodes'. Credentials: <see cref="ClusterKey"/>
/// (the client secret, as in the cluster file's <c>key</c> or a client key file) for data operations, and
/// <see cref="AdminKey"/> (the admin secret) for operations that change the cluster; with an admin key every request is
/// sealed with it (admin includes client). A client never holds the peer secret.
/// </summary>
public sealed record RaftClientOptions
{
    /// <summary>Nodes to contact (any subset of the members; the leader is found from there).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints { get; init; } = [];
    public string ClusterName { get; init; } = ClusterDefinition.DefaultClusterName;
    /// <summary>The client secret (the cluster file's <c>key</c>, or the current line of a client key file), or null when the cluster accepts plaintext clients.</summary>
    public string? ClusterKey { get; init; }
    /// <summary>The admin secret, needed for membership changes, leadership transfer, fault injection and snapshots on a keyed cluster; null otherwise.</summary>
    public string? AdminKey { get; init; }
    /// <summary>How long one datagram exchange may take before the request is sent again (to the next node).</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Total time an operation may take, retries included.</summary>
    public TimeSpan Deadline { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Concurrent writes (session lanes, each one client session on the cluster). Further writes wait for a lane.</summary>
    public int MaxSessions { get; init; } = 64;
    /// <summary>First retry backoff; doubles (with jitter) up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(5);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Node that stale reads go to first; null means the last known leader, else the first endpoint.</summary>
    public IPEndPoint? PreferredEndpoint { get; init; }
    /// <summary>Per-node budget of <see cref="RaftClient.ClusterStatusAsync"/> (capped by <see cref="Deadline"/>), so one dead node does not stall it.</summary>
    public TimeSpan StatusTimeout { get; init; } = TimeSpan.FromSeconds(1);

    // Wire settings: must not be smaller than what the nodes send.
    public int MaxDatagramSize { get; init; } = WireOptions.DefaultMaxDatagramSize;
    public int MaxMessageSize { get; init; } = 64 << 20;
    public TimeSpan ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Socket send and receive buffer size requested from the OS (a burst of replies must fit).</summary>
    public int SocketBufferSize { get; init; } = 4 << 20;

    /// <summary>Options for every member of <paramref name="cluster"/>, with its name and key.</summary>
    public static RaftClientOptions For(ClusterDefinition cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return new RaftClientOptions
        {
            Endpoints = cluster.Members.Select(m => m.ResolveEndPoint()).ToArray(),
            ClusterName = cluster.ClusterName,
            ClusterKey = cluster.Key,
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> for settings that cannot work.</summary>
    public RaftClientOptions Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0) throw new ArgumentException("at least one endpoint is required", nameof(Endpoints));
        for (int i = 0; i < Endpoints.Count; i++)
        {
            var ep = Endpoints[i] ?? throw new ArgumentException($"endpoint #{i + 1} is null", nameof(Endpoints));
            if (ep.Port == 0) throw new ArgumentException($"endpoint {ep} has no port", nameof(Endpoints));
        }
        if (string.IsNullOrEmpty(ClusterName)) throw new ArgumentException("cluster name is required", nameof(ClusterName));
        if (ClusterKey is { Length: 0 }) throw new ArgumentException("cluster key must be null or non-empty", nameof(ClusterKey));
        if (AdminKey is { Length: 0 }) throw new ArgumentException("admin key must be null or non-empty", nameof(AdminKey));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AttemptTimeout, TimeSpan.Zero, nameof(AttemptTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Deadline, TimeSpan.Zero, nameof(Deadline));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSessions, 1, nameof(MaxSessions));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinBackoff, TimeSpan.Zero, nameof(MinBackoff));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, MinBackoff, nameof(MaxBackoff));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StatusTimeout, TimeSpan.Zero, nameof(StatusTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(SocketBufferSize, 0, nameof(SocketBufferSize));
        ToWireOptions().Validate();
        return this;
    }

    /// <summary>The wire settings these options imply (keys are derived from the secrets as the nodes derive them).</summary>
    public WireOptions ToWireOptions() => new()
    {
        MaxDatagramSize = MaxDatagramSize,
        MaxMessageSize = MaxMessageSize,
        ReassemblyTimeout = ReassemblyTimeout,
        Keys = ClusterKey is null && AdminKey is null ? null : new Keyring(ClusterId.FromName(ClusterName), new ClusterCredentials
        {
            Client = ClusterKey is { Length: > 0 } c ? [c] : [],
            Admin = AdminKey is { Length: > 0 } a ? [a] : [],
        }),
    };
}
