using System.Diagnostics;
using System.Net;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.Membership;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Storage;
using RaftPS.Node.Transport;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node;

/// <summary>
/// One running RaftPS server: a single event loop owns the consensus core, the state machine and the storage; the UDP
/// transport and in-process callers post events into it and the loop drives the tick clock itself, so nothing here needs
/// locks. Runs the same from
/// `raftps node` and in-process from a host (a PowerShell cmdlet, a test).
/// </summary>
public sealed partial class RaftServer : IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly ILogger _log;
    // The loop runs on one dedicated thread that blocks on _wake when idle: producers enqueue, then Set; the loop Resets
    // before it drains, so an event posted at any moment either is drained or leaves the signal set.
    private readonly ConcurrentQueue<LoopEvent> _events = new();
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private volatile bool _closed;
    private readonly CancellationTokenSource _stop = new();
    private readonly ClusterMember _self;
    private readonly RaftStorage _storage;
    private readonly UdpTransport _transport;
    private readonly Raft _raft;
    private KvStateMachine _kv;
    private readonly TaskCompletionSource _loopDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();

    // Waiting client requests, owned by the loop.
    private readonly Dictionary<(ulong ClientId, ulong Sequence), PendingRequest> _pendingWrites = new();
    private readonly List<KvCommand> _proposalBatch = new();
    private readonly List<PendingRequest> _readBatch = new();
    private readonly Dictionary<ulong, List<PendingRequest>> _readsByContext = new();
    private readonly List<(ulong Index, List<PendingRequest> Reads)> _confirmedReads = new();
    private ulong _nextReadContext;
    private Role _lastRole;
    private ulong _lastTerm;
    private ulong _lastLead;
    private volatile NodeStatus _status = new();

    private RaftServer(NodeOptions options, ILogger log, ClusterMember self, RaftStorage storage, UdpTransport transport, Raft raft, KvStateMachine kv)
    {
        _options = options;
        _log = log;
        _self = self;
        _storage = storage;
        _transport = transport;
        _raft = raft;
        _kv = kv;
        _persisted = raft.HardState;
    }

    public string NodeId => _self.Id;
    /// <summary>The cluster this node belongs to (from its identity in the data directory).</summary>
    public string ClusterName { get; private init; } = ClusterDefinition.DefaultClusterName;
    /// <summary>The bound UDP endpoint (peers and clients share it).</summary>
    public IPEndPoint EndPoint => _transport.LocalEndPoint;
    /// <summary>Latest status, refreshed by the event loop.</summary>
    public NodeStatus Status => _status;
    public WireCounters Counters => _transport.Counters;
    /// <summary>Faults injected into this node's transport (drills): switchable at run time.</summary>
    public FaultSettings Faults
    {
        get => _transport.Faults;
        set => _transport.Faults = value;
    }
    /// <summary>Completes when the node stops (cleanly or because of a fatal error, which it then carries).</summary>
    public Task Completion => _loop;

    /// <summary>
    /// Recovers from the data directory (snapshot + log tail, torn tail truncated, mid-log damage is fatal), binds the UDP
    /// port and starts the event loop. The first start of a founding member writes the cluster file's members as the first
    /// configuration entry (bootstrap); after that membership comes only from the log and snapshots.
    /// </summary>
    public static RaftServer Start(NodeOptions options)
    {
        options.Validate();
        var log = options.LoggerFactory.CreateLogger($"RaftPS.Node.{options.NodeId}");
        var storage = RaftStorage.Open(options.DataDirectory,
            new WalOptions { Fsync = options.Fsync, SegmentBytes = options.SegmentBytes }, log, out var recovered);
        try
        {
            var identity = ResolveIdentity(options, recovered);
            var durable = recovered.LastIndex == 0 && recovered.HardState.IsEmpty && !identity.Joiner
                ? Bootstrap(options, storage, log)
                : new RecoveredLog(recovered.HardState, recovered.Snapshot, recovered.Entries);
            // Saved only now: a founding member that crashed before its bootstrap entry was durable bootstraps again.
            identity.Save(options.DataDirectory);
            var kv = new KvStateMachine();
            if (durable.Snapshot is { } snap) kv.Restore(snap.Data);
            var selfNodeId = ClusterDefinition.NodeIdOf(identity.Id);
            // Membership comes from the log or snapshot only (never from a file): ConfState.Empty until one is there.
            var raft = new Raft(new RaftOptions
            {
                Id = selfNodeId,
                ElectionTicks = options.ElectionTicks,
                HeartbeatTicks = options.HeartbeatTicks,
                MaxInflightMessages = options.MaxInflightMessages,
                MaxSizePerMessage = options.MaxSizePerMessage,
                Random = new SeededRandom(options.RandomSeed ?? Environment.TickCount ^ (int)selfNodeId),
            }, durable, ConfState.Empty);
            log.LogInformation("recovered: term {Term}, commit {Commit}, last index {Last}, snapshot {Snap}, {Keys} keys, configuration {Config}",
                raft.Term, raft.Log.Committed, raft.Log.LastIndex, durable.Snapshot?.Index ?? 0, kv.Count, raft.Config);

            if (!raft.Config.AllIds.Any() && !identity.Joiner && raft.Log.LastIndex > 0)
                throw new ClusterDefinitionException(
                    $"data directory '{options.DataDirectory}' has a log but no configuration entry (written by an older RaftPS, before membership " +
                    "came from the log): start a new cluster and copy the data over with a client");
            var members = MemberTable.Decode(raft.Config.Context);
            WarnIfFileDisagrees(options.Cluster, members, raft, log);
            var self = members.Find(selfNodeId) ?? new ClusterMember(identity.Id, identity.Host, identity.Port);
            var bind = new IPEndPoint(options.BindAddress ?? self.ResolveEndPoint().Address, self.Port);
            var keys = NodeSecurity.KeyringFor(options, ClusterId.FromName(identity.Cluster));
            NodeSecurity.CheckBind(bind.Address, keys, options.Insecure, log);
            var wire = new WireOptions { Keys = keys };
            var transport = new UdpTransport(bind, ClusterId.FromName(identity.Cluster), selfNodeId, new PeerAddressBook(),
                new TransportOptions { Wire = wire }, log);
            var server = new RaftServer(options, log, self, storage, transport, raft, kv) { ClusterName = identity.Cluster };
            server._lastSnapshotBytes = durable.Snapshot?.Data.LongLength ?? 0;
            server.FollowConfiguration();
            server._appliedMembers = MemberTable.Decode(raft.ConfStateAt(raft.Log.Applied).Context);
            // Removed in a configuration a snapshot already covers: there is no entry left to apply that would say so.
            server._removed = server._appliedMembers.IsRemoved(selfNodeId);
            server._appliedConfigHasMe = Configuration.FromConfState(raft.ConfStateAt(raft.Log.Applied)).IsMember(selfNodeId);
            server._status = server.BuildStatus();
            transport.RaftMessageReceived += server.PostPeer;
            transport.RemovedNoticeReceived += (sender, index) => server.Post(new LoopEvent.Invoke(() => server.OnRemovedNotice(sender, index)));
            transport.ClientRequestReceived += server.PostClient;
            transport.AdmitClientRequest = server.AdmitClient;
            server.StartSnapshotStreaming();
            transport.Start();
            server._loop = server._loopDone.Task;
            new Thread(server.RunLoopThread) { IsBackground = true, Name = $"raftps-loop-{self.Id}" }.Start();
            return server;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Who this node is: from node.json in the data directory once written, else from the options (listen address, or the
    /// cluster file's entry for this id). Written at the first start so later starts need only the id and data directory.
    /// </summary>
    private static NodeIdentity ResolveIdentity(NodeOptions options, RecoveredState recovered)
    {
        var saved = NodeIdentity.Load(options.DataDirectory);
        if (saved is not null)
        {
            if (saved.Id != options.NodeId)
                throw new ClusterDefinitionException($"data directory '{options.DataDirectory}' belongs to node '{saved.Id}', not '{options.NodeId}'");
            return saved;
        }
        var self = options.Listen ?? options.Cluster?.Find(options.NodeId);
        var clusterName = options.Cluster?.ClusterName ?? options.ClusterName ?? ClusterDefinition.DefaultClusterName;
        if (self is null)
        {
            throw new ClusterDefinitionException(options.Cluster is null
                ? $"node '{options.NodeId}' has no identity in '{options.DataDirectory}': give a cluster file (founding member) or a listen address with join"
                : $"node id '{options.NodeId}' is not a member of cluster '{options.Cluster.ClusterName}' (members: {string.Join(", ", options.Cluster.Members.Select(m => m.Id))}); to add a new node start it with join and a listen address");
        }
        if (recovered.LastIndex > 0 && options.Cluster is null && !options.Join)
            throw new ClusterDefinitionException($"data directory '{options.DataDirectory}' has a log but no node identity");
        return new NodeIdentity(clusterName, options.NodeId, self.Host, self.Port, options.Join);
    }

    /// <summary>
    /// First start of a founding member: the cluster file's members become log entry 1, a configuration entry of term 1,
    /// committed (etcd bootstraps the same way). Every founding member writes the identical entry, so their logs agree;
    /// from here on the configuration is replicated like any entry and the file is never consulted again.
    /// </summary>
    private static RecoveredLog Bootstrap(NodeOptions options, RaftStorage storage, ILogger log)
    {
        var cluster = options.Cluster ?? throw new ClusterDefinitionException("a new cluster needs a cluster file to bootstrap from");
        var members = new MemberTable(cluster.Members);
        var conf = new ConfState(cluster.Members.Select(m => m.NodeId).Order().ToArray(), [], [], [], false, members.Encode());
        var entry = new Entry(1, 1, EntryType.ConfChange, ConfStateCodec.Encode(conf));
        var hs = new HardState(1, 0, 1);
        storage.Append(hs, [entry]);
        storage.Sync();
        log.LogInformation("bootstrapped cluster '{Cluster}' with members {Members}", cluster.ClusterName, string.Join(", ", cluster.Members.Select(m => m.Id)));
        return new RecoveredLog(hs, null, [entry]);
    }

    /// <summary>A cluster file that disagrees with the replicated configuration is reported, never used.</summary>
    private static void WarnIfFileDisagrees(ClusterDefinition? file, MemberTable members, Raft raft, ILogger log)
    {
        if (file is null || members.Members.Count == 0) return;
        var inLog = members.Members.Select(m => $"{m.Id}@{m.Endpoint}").ToHashSet();
        var inFile = file.Members.Select(m => $"{m.Id}@{m.Endpoint}").ToHashSet();
        if (inLog.SetEquals(inFile)) return;
        log.LogWarning("the cluster file disagrees with the replicated configuration and is ignored (membership comes from the log): " +
                       "only in the file: [{FileOnly}]; only in the configuration: [{LogOnly}]; configuration: {Config}",
            string.Join(", ", inFile.Except(inLog).Order()), string.Join(", ", inLog.Except(inFile).Order()), raft.Config);
    }

    /// <summary>Stops the loop, the timer and the socket; waits for the loop to finish its current batch.</summary>
    public async Task StopAsync()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _closed = true;
        _wake.Set();
        try { await _loop.ConfigureAwait(false); } catch (OperationCanceledException) { } catch (Exception ex) { _log.LogDebug(ex, "loop ended with error"); }
        await _transport.DisposeAsync().ConfigureAwait(false);
        await StopSnapshotWorkAsync().ConfigureAwait(false);
        _storage.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>Asks this node to hand leadership to <paramref name="nodeId"/> (thesis §3.10).</summary>
    public Task<bool> TransferLeadershipAsync(string nodeId)
    {
        var tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Post(new LoopEvent.Invoke(() =>
            {
                if (_members.Find(nodeId) is { } target) tcs.TrySetResult(_raft.TransferLeadership(target.NodeId));
                else tcs.TrySetException(new ArgumentException($"'{nodeId}' is not a cluster member"));
            })))
            tcs.TrySetException(new ObjectDisposedException(nameof(RaftServer)));
        return tcs.Task;
    }

    /// <summary>Queues an event for the loop; false once the node is stopping or stopped.</summary>
    private bool Post(LoopEvent ev)
    {
        if (_closed) return false;
        _events.Enqueue(ev);
        _wake.Set();
        return true;
    }

    private long NowMs => (long)Stopwatch.GetElapsedTime(_startTimestamp).TotalMilliseconds;

    private abstract record LoopEvent
    {
        /// <param name="FromWire">Counted against <see cref="NodeOptions.MaxQueuedPeerMessages"/> (a datagram, not a rebuilt snapshot).</param>
        public sealed record Peer(Message Message, bool FromWire = false) : LoopEvent;
        public sealed record Client(ClientRequest Request, EndPoint From) : LoopEvent;
        public sealed record Invoke(Action Action) : LoopEvent;
        public sealed record Tick : LoopEvent { public static readonly Tick Instance = new(); }
    }

    /// <summary>A client request waiting for its entry to apply or its read to be confirmed, and where to answer.</summary>
    private sealed record PendingRequest(ClientRequest Request, EndPoint ReplyTo);
}
