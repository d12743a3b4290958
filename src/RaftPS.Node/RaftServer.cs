using System.Diagnostics;
using System.Net;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
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
    private readonly Dictionary<ulong, ClusterMember> _membersByNodeId;
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
        _membersByNodeId = options.Cluster.Members.ToDictionary(m => m.NodeId);
        _persisted = raft.HardState;
    }

    public string NodeId => _self.Id;
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
    /// port and starts the event loop.
    /// </summary>
    public static RaftServer Start(NodeOptions options)
    {
        options.Validate();
        var log = options.LoggerFactory.CreateLogger($"RaftPS.Node.{options.NodeId}");
        var self = options.Cluster.Find(options.NodeId)!;
        var storage = RaftStorage.Open(options.DataDirectory,
            new WalOptions { Fsync = options.Fsync, SegmentBytes = options.SegmentBytes }, log, out var recovered);
        try
        {
            var kv = new KvStateMachine(options.Kv.SessionTimeoutMs, options.Kv.MaxSessions);
            if (recovered.Snapshot is { } snap) kv.Restore(snap.Data);
            var bootstrap = ConfState.Of(options.Cluster.Members.Select(m => m.NodeId).ToArray());
            var raft = new Raft(new RaftOptions
            {
                Id = self.NodeId,
                ElectionTicks = options.ElectionTicks,
                HeartbeatTicks = options.HeartbeatTicks,
                MaxInflightMessages = options.MaxInflightMessages,
                MaxSizePerMessage = options.MaxSizePerMessage,
                Random = new SeededRandom(options.RandomSeed ?? Environment.TickCount ^ (int)self.NodeId),
            }, new RecoveredLog(recovered.HardState, recovered.Snapshot, recovered.Entries), bootstrap);
            log.LogInformation("recovered: term {Term}, commit {Commit}, last index {Last}, snapshot {Snap}, {Keys} keys",
                raft.Term, raft.Log.Committed, raft.Log.LastIndex, recovered.Snapshot?.Index ?? 0, kv.Count);

            var peers = new PeerAddressBook(options.Cluster.Members.Where(m => m.NodeId != self.NodeId)
                .Select(m => KeyValuePair.Create(m.NodeId, m.ResolveEndPoint())));
            var bind = new IPEndPoint(options.BindAddress ?? self.ResolveEndPoint().Address, self.Port);
            var wire = new WireOptions { ClusterKey = options.Cluster.Key is { Length: > 0 } k ? ClusterId.KeyFromSecret(k) : null };
            var transport = new UdpTransport(bind, options.Cluster.ClusterId, self.NodeId, peers, new TransportOptions { Wire = wire }, log);
            var server = new RaftServer(options, log, self, storage, transport, raft, kv);
            transport.RaftMessageReceived += m => server.Post(new LoopEvent.Peer(m));
            transport.ClientRequestReceived += (r, from) => server.Post(new LoopEvent.Client(r, from));
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
        var target = _options.Cluster.Find(nodeId) ?? throw new ArgumentException($"'{nodeId}' is not a cluster member");
        var tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Post(new LoopEvent.Invoke(() => tcs.TrySetResult(_raft.TransferLeadership(target.NodeId)))))
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
        public sealed record Peer(Message Message) : LoopEvent;
        public sealed record Client(ClientRequest Request, EndPoint From) : LoopEvent;
        public sealed record Invoke(Action Action) : LoopEvent;
        public sealed record Tick : LoopEvent { public static readonly Tick Instance = new(); }
    }

    /// <summary>A client request waiting for its entry to apply or its read to be confirmed, and where to answer.</summary>
    private sealed record PendingRequest(ClientRequest Request, EndPoint ReplyTo);
}
