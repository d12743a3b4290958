using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RaftPS.Node.SnapshotStreaming;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>Everything one node needs to run. Defaults suit a LAN or loopback cluster.</summary>
public sealed record NodeOptions
{
    /// <summary>This node's id (e.g. "n1").</summary>
    public required string NodeId { get; init; }
    /// <summary>
    /// The cluster file. Used once: the first start of a founding member (empty data directory) writes the file's members
    /// as the cluster's first configuration entry (bootstrap). Every later start takes membership only from its own
    /// log/snapshot; a file that disagrees is reported as a warning and never used to count votes. Optional after the
    /// first start and for joiners.
    /// </summary>
    public ClusterDefinition? Cluster { get; init; }
    /// <summary>
    /// Start as a joiner: the data directory is empty, the node holds no configuration and waits for the leader to add it
    /// (<c>raftps member add</c>); <see cref="Listen"/> is its address. Its identity is kept in the data directory, so a
    /// restart needs only the id and the data directory.
    /// </summary>
    public bool Join { get; init; }
    /// <summary>This node's own address (a joiner's, or to override the cluster file's on the first start).</summary>
    public ClusterMember? Listen { get; init; }
    /// <summary>Cluster name for a joiner without a cluster file (peers drop datagrams of another cluster).</summary>
    public string? ClusterName { get; init; }
    /// <summary>Shared cluster key for a joiner without a cluster file.</summary>
    public string? ClusterKey { get; init; }
    /// <summary>A learner counts as caught up (and is promoted) within this many entries of the leader's last index (thesis §4.2.1).</summary>
    public ulong PromotionMaxLag { get; init; } = 1000;
    /// <summary>Data directory (WAL segments and snapshots); created if missing. The node always recovers from it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Address to bind; defaults to this member's host from the cluster file (127.0.0.1 for a local cluster).</summary>
    public IPAddress? BindAddress { get; init; }
    /// <summary>Length of one consensus tick. Short ticks give the randomized election timeout fine steps, so split votes are rare.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(5);
    /// <summary>Election timeout in ticks (randomized in [n, 2n) per election): 150–300 ms by default.</summary>
    public int ElectionTicks { get; init; } = 30;
    /// <summary>Heartbeat interval in ticks: 50 ms by default.</summary>
    public int HeartbeatTicks { get; init; } = 10;
    /// <summary>fsync before acknowledging. Turning it off loses acknowledged writes on power failure; only for experiments.</summary>
    public bool Fsync { get; init; } = true;
    public long SegmentBytes { get; init; } = 64L << 20;
    /// <summary>Take a snapshot once the live log exceeds this many bytes.</summary>
    public long SnapshotThresholdBytes { get; init; } = 64L << 20;
    /// <summary>Log entries kept in memory behind a snapshot so slightly lagging followers need no snapshot.</summary>
    public int EntriesKeptAfterSnapshot { get; init; } = 5000;
    /// <summary>
    /// The leader appends a digest checkpoint after this many applied entries (0: only on request): every replica hashes
    /// its state at the checkpoint and compares with the leader's hash that the next checkpoint carries.
    /// </summary>
    public int DigestIntervalEntries { get; init; } = 10_000;
    public KvOptions Kv { get; init; } = new();
    /// <summary>Flow control and timeouts of snapshot streams to and from peers.</summary>
    public SnapshotStreamOptions SnapshotStreams { get; init; } = new();
    /// <summary>Requests a client may have waiting on this node at once; beyond it new ones are refused as Unavailable.</summary>
    public int MaxPendingRequests { get; init; } = 100_000;
    public int MaxInflightMessages { get; init; } = 256;
    public long MaxSizePerMessage { get; init; } = 1 << 20;
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;
    /// <summary>Accept <c>SetFaults</c> requests from clients (failure drills). Off by default: a production node refuses them.</summary>
    public bool AllowFaultInjection { get; init; }
    /// <summary>
    /// Secrets by role (peer, client, admin; first of each current, the rest still accepted). The cluster file's key is
    /// added as a client secret. A node on a non-loopback address needs a peer secret unless <see cref="Insecure"/>.
    /// </summary>
    public ClusterCredentials Credentials { get; init; } = ClusterCredentials.None;
    /// <summary>Allow listening on a non-loopback address without a peer credential (logged as critical at start).</summary>
    public bool Insecure { get; init; }
    /// <summary>Client requests that may wait in the loop's ingress queue; beyond it new ones are answered "busy".</summary>
    public int MaxQueuedClientRequests { get; init; } = 10_000;
    /// <summary>Peer messages waiting for the event loop beyond which more are dropped (and counted), like lost datagrams.</summary>
    public int MaxQueuedPeerMessages { get; init; } = 50_000;
    /// <summary>Seed for election-timeout randomness; null derives one from the clock.</summary>
    public int? RandomSeed { get; init; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory)) throw new ArgumentException("a data directory is required");
        if (!ClusterDefinition.IsValidId(NodeId)) throw new ArgumentException($"'{NodeId}' is not a valid node id");
        if (Join && Listen is null) throw new ArgumentException("a joiner needs its listen address");
        if (Listen is not null && Listen.Id != NodeId) throw new ArgumentException("the listen address must carry this node's id");
        if (TickInterval <= TimeSpan.Zero) throw new ArgumentException("TickInterval must be positive");
        if (ElectionTicks <= HeartbeatTicks) throw new ArgumentException("ElectionTicks must exceed HeartbeatTicks");
        if (SnapshotThresholdBytes < 1024) throw new ArgumentException("SnapshotThresholdBytes must be at least 1 KiB");
        if (EntriesKeptAfterSnapshot < 0) throw new ArgumentException("EntriesKeptAfterSnapshot cannot be negative");
        if (DigestIntervalEntries < 0) throw new ArgumentException("DigestIntervalEntries cannot be negative");
        if (MaxQueuedClientRequests < 1) throw new ArgumentException("MaxQueuedClientRequests must be positive");
        if (MaxQueuedPeerMessages < 1) throw new ArgumentException("MaxQueuedPeerMessages must be positive");
        ArgumentNullException.ThrowIfNull(Credentials);
    }
}
