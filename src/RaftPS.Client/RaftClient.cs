using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Client;

/// <summary>
/// Client of a RaftPS cluster over UDP. Finds the leader (redirect hints, else the next node), retries with jittered
/// exponential backoff until <see cref="RaftClientOptions.Deadline"/>, and makes writes exactly-once through session
/// lanes (Raft thesis §6.3): every retry of a write carries the same (client id, sequence), so the cluster applies it
/// once. Thread-safe; one instance is meant to be shared by many concurrent callers.
/// </summary>
public sealed partial class RaftClient : IAsyncDisposable
{
    private enum Route : byte
    {
        /// <summary>Linearizable reads and writes: follow NotLeader hints to the leader.</summary>
        Leader,
        /// <summary>Stale reads: any node serves them; a refusal moves on to the next node, never along a hint.</summary>
        AnyNode,
        /// <summary>Status of one node: only that node.</summary>
        Fixed,
    }

    private readonly RaftClientOptions _options;
    // Grows (never shrinks) as membership replies name new members, so failover reaches servers added after start.
    private IPEndPoint[] _endpoints;
    private readonly SessionLanes _lanes;
    private readonly ConcurrentDictionary<string, IPEndPoint?> _hints = new(StringComparer.OrdinalIgnoreCase);
    private readonly long _attemptMs;
    private readonly long _deadlineMs;
    private readonly double _minBackoffMs;
    private readonly double _maxBackoffMs;
    private IPEndPoint? _leader;
    private int _cursor;

    public RaftClient(RaftClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validate();
        _endpoints = options.Endpoints.ToArray();
        _attemptMs = Math.Max(1, (long)options.AttemptTimeout.TotalMilliseconds);
        _deadlineMs = Math.Max(1, (long)options.Deadline.TotalMilliseconds);
        _minBackoffMs = options.MinBackoff.TotalMilliseconds;
        _maxBackoffMs = options.MaxBackoff.TotalMilliseconds;
        _lanes = new SessionLanes(options.MaxSessions);
        _nextRequestId = Random.Shared.NextInt64();
        // The header's sender id only keys reassembly of our chunked replies on the nodes; sessions live in the payload.
        _wire = new ClientWire(options.ToWireOptions(), ClusterId.FromName(options.ClusterName), (ulong)Random.Shared.NextInt64(1, long.MaxValue));
        _socket = CreateSocket(_endpoints, options.SocketBufferSize, out _dualMode);
        var sweepEvery = TimeSpan.FromMilliseconds(Math.Clamp(_attemptMs / 8, 1, 25));
        _sweeper = new Timer(static s => ((RaftClient)s!).Sweep(), this, sweepEvery, sweepEvery);
        _receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = "RaftClient receive" };
        _receiveThread.Start();
    }

    /// <summary>A client for every member of <paramref name="cluster"/>, with its name and key.</summary>
    public static RaftClient Create(ClusterDefinition cluster) => new(RaftClientOptions.For(cluster));

    /// <summary>A client for <paramref name="cluster"/> with other settings taken from <paramref name="settings"/>.</summary>
    public static RaftClient Create(ClusterDefinition cluster, RaftClientOptions settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var baseline = RaftClientOptions.For(cluster);
        return new RaftClient(settings with { Endpoints = baseline.Endpoints, ClusterName = baseline.ClusterName, ClusterKey = settings.ClusterKey ?? baseline.ClusterKey });
    }

    public RaftClientOptions Options => _options;
    public IReadOnlyList<IPEndPoint> Endpoints => _endpoints;
    /// <summary>The node that last answered as leader, or null when unknown.</summary>
    public IPEndPoint? KnownLeader => Volatile.Read(ref _leader);
    /// <summary>Local address of the client's socket.</summary>
    public EndPoint LocalEndPoint => _socket.LocalEndPoint!;
    /// <summary>Datagrams sent and received, drops by reason.</summary>
    public WireCounters Counters => _wire.Counters;
    /// <summary>Times a session lane took a new identity after an unresolved write or an expired session.</summary>
    public long SessionsRenewed => _lanes.Renewed;

    // ------------------------------------------------------------------ operations

    /// <summary>Reads <paramref name="key"/>.</summary>
    /// <exception cref="RaftKeyNotFoundException">The key does not exist.</exception>
    public async Task<KvItem> GetAsync(string key, ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default) =>
        await TryGetAsync(key, consistency, cancellationToken).ConfigureAwait(false) ?? throw new RaftKeyNotFoundException(key);

    /// <summary>Reads <paramref name="key"/>; null when it does not exist.</summary>
    public async Task<KvItem?> TryGetAsync(string key, ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        CheckConsistency(consistency);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Get, Key = key, Consistency = consistency },
            RouteFor(consistency), null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status switch
        {
            ReplyStatus.Ok => reply.Items.Count > 0 ? reply.Items[0] : null,
            ReplyStatus.KeyNotFound => null,
            _ => throw ErrorFor(reply, key),
        };
    }

    /// <summary>Writes <paramref name="value"/> (not copied: do not modify it until the task completes).</summary>
    /// <returns>The stored item; its version is the log index of this write.</returns>
    public async Task<KvItem> PutAsync(string key, byte[] value, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(value);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Put, Key = key, Value = value },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status == ReplyStatus.Ok ? WrittenItem(reply, key, value) : throw ErrorFor(reply, key);
    }

    /// <summary>Writes <paramref name="value"/> as UTF-8.</summary>
    public Task<KvItem> PutAsync(string key, string value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        return PutAsync(key, Encoding.UTF8.GetBytes(value), cancellationToken);
    }

    /// <summary>Deletes <paramref name="key"/>.</summary>
    /// <returns>The log index of the delete.</returns>
    /// <exception cref="RaftKeyNotFoundException">The key did not exist (nothing was deleted).</exception>
    public async Task<ulong> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Delete, Key = key },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status == ReplyStatus.Ok ? reply.Version : throw ErrorFor(reply, key);
    }

    /// <summary>
    /// Writes <paramref name="value"/> only if the key's version is <paramref name="expectedVersion"/> (0: the key must
    /// not exist) and/or its value equals <paramref name="expectedValue"/>. At least one expectation is required.
    /// </summary>
    /// <exception cref="RaftVersionMismatchException">An expectation failed; nothing was written.</exception>
    public async Task<KvItem> CompareAndSetAsync(string key, byte[] value, ulong? expectedVersion, byte[]? expectedValue = null, CancellationToken cancellationToken = default)
    {
        CheckKey(key);
        ArgumentNullException.ThrowIfNull(value);
        if (expectedVersion is null && expectedValue is null)
            throw new ArgumentException("compare-and-set needs an expected version, an expected value, or both", nameof(expectedVersion));
        if (expectedVersion == 0 && expectedValue is not null)
            throw new ArgumentException("expected version 0 means the key must not exist, so it cannot also have an expected value", nameof(expectedValue));
        var reply = await ExecuteAsync(
            new ClientRequest { Op = ClientOp.CompareAndSet, Key = key, Value = value, ExpectedVersion = expectedVersion, ExpectedValue = expectedValue },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status switch
        {
            ReplyStatus.Ok => WrittenItem(reply, key, value),
            ReplyStatus.VersionMismatch => throw new RaftVersionMismatchException(key, reply.Version, expectedVersion),
            _ => throw ErrorFor(reply, key),
        };
    }

    /// <summary>Items whose key matches <paramref name="pattern"/> (a prefix, or a wildcard pattern with * and ?), in key order.</summary>
    /// <param name="limit">At most this many items; 0 for all.</param>
    public async Task<IReadOnlyList<KvItem>> ListAsync(string pattern = "", int limit = 0, ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (!IsWellFormed(pattern)) throw new ArgumentException("pattern is not well-formed Unicode (unpaired surrogate)", nameof(pattern));
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        CheckConsistency(consistency);
        // Nodes answer in pages (bounded replies); follow the continuation until the limit or the last page.
        var all = new List<KvItem>();
        string? after = null;
        do
        {
            int want = limit == 0 ? 0 : limit - all.Count;
            var page = await ListPageAsync(pattern, after, want, consistency, cancellationToken).ConfigureAwait(false);
            all.AddRange(page.Items);
            after = page.ContinuationToken;
        } while (after is not null && (limit == 0 || all.Count < limit));
        return all;
    }

    /// <summary>
    /// One page of matches after <paramref name="after"/> (null: from the start), at most <paramref name="limit"/> items
    /// (0: the node's default page). Continue with the returned token while it is not null. Each page is its own read.
    /// </summary>
    public async Task<(IReadOnlyList<KvItem> Items, string? ContinuationToken)> ListPageAsync(string pattern, string? after, int limit = 0,
        ReadConsistency consistency = ReadConsistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        CheckConsistency(consistency);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.List, Key = pattern, Limit = limit, After = after, Consistency = consistency },
            RouteFor(consistency), null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status == ReplyStatus.Ok ? (reply.Items, reply.ContinuationToken) : throw ErrorFor(reply, pattern);
    }

    /// <summary>Status of the node at <paramref name="endpoint"/> (that node only, no redirect).</summary>
    /// <exception cref="RaftUnavailableException">It did not answer before the deadline.</exception>
    public Task<NodeStatus> StatusAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return StatusAsync(endpoint, _deadlineMs, cancellationToken);
    }

    /// <summary>How long one status probe may take: the status timeout, never beyond the deadline.</summary>
    private long StatusBudgetMs => Math.Min(_deadlineMs, Math.Max(1, (long)_options.StatusTimeout.TotalMilliseconds));

    /// <summary>Statuses of every endpoint that answered within <see cref="RaftClientOptions.StatusTimeout"/>, in endpoint order.</summary>
    /// <exception cref="RaftUnavailableException">None answered.</exception>
    public async Task<IReadOnlyList<NodeStatus>> ClusterStatusAsync(CancellationToken cancellationToken = default)
    {
        long budget = StatusBudgetMs;
        var tasks = _endpoints.Select(async ep =>
        {
            try
            {
                return await StatusAsync(ep, budget, cancellationToken).ConfigureAwait(false);
            }
            catch (RaftClientException)
            {
                return null;
            }
        }).ToArray();
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        var answered = results.Where(s => s is not null).Select(s => s!).ToArray();
        if (answered.Length == 0)
            throw new RaftUnavailableException(
                $"no node answered a status request within {FormatMs(budget)} (tried {string.Join(", ", _endpoints.Select(e => e.ToString()))})", _endpoints);
        return answered;
    }

    /// <summary>Endpoint of the current leader, asking nodes for their status and following their leader hints.</summary>
    /// <exception cref="RaftUnavailableException">No leader was found before the deadline.</exception>
    public async Task<IPEndPoint> LeaderAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        long deadline = Now + _deadlineMs;
        int cursor = CurrentCursor();
        var target = KnownLeader ?? _endpoints[cursor];
        int backoffs = 0, hops = 0;
        Trace? trace = null;
        while (true)
        {
            long remaining = deadline - Now;
            if (remaining <= 0) break;
            var request = new ClientRequest { RequestId = NextRequestId(), Op = ClientOp.Status };
            var (outcome, reply) = await AttemptAsync(request, target, Math.Min(_attemptMs, remaining), cancellationToken).ConfigureAwait(false);
            if (reply is { Status: ReplyStatus.Unauthorized or ReplyStatus.Forbidden }) throw RaftAccessDeniedException.For(reply);
            if (reply is { Status: ReplyStatus.Ok, NodeStatus: { } status })
            {
                if (IsLeaderRole(status.Role))
                {
                    RememberLeader(target);
                    return target;
                }
                var hinted = ResolveHint(reply.LeaderEndpoint) ?? LeaderFromStatus(status);
                (trace ??= new()).Note(target, $"{status.Role}, leader {status.Leader ?? "unknown"}");
                if (hinted is not null && !hinted.Equals(target))
                {
                    target = hinted;
                    if (++hops > 2) await BackoffAsync(ref backoffs, deadline, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }
            else
            {
                (trace ??= new()).Note(target, reply is null ? Describe(outcome) : Describe(reply));
            }
            ForgetLeader(target);
            target = NextTarget(ref cursor, target, preferLeader: true);
            await BackoffAsync(ref backoffs, deadline, cancellationToken).ConfigureAwait(false);
        }
        throw new RaftUnavailableException($"no leader found within {FormatMs(_deadlineMs)}; tried {trace?.Describe() ?? "nothing"}", trace?.Endpoints ?? []);
    }

    /// <summary>
    /// Asks the leader to hand leadership to member <paramref name="targetId"/> (thesis §3.10). Returns once the leader
    /// accepted; the handover itself completes shortly after (see <see cref="LeaderAsync"/>).
    /// </summary>
    /// <exception cref="RaftBadRequestException">The target is not a voting member.</exception>
    public async Task TransferLeadershipAsync(string targetId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(targetId);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.TransferLeadership, Key = targetId },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        if (reply.Status != ReplyStatus.Ok) throw ErrorFor(reply, targetId);
        // Leadership is moving: let the next request find the new leader through hints instead of the old one.
        var leader = KnownLeader;
        if (leader is not null) ForgetLeader(leader);
    }

    /// <summary>The configuration as the leader sees it: every member with its role and, from the leader, match index and lag.</summary>
    public async Task<NodeStatus> MembersAsync(CancellationToken cancellationToken = default)
    {
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Members }, Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return MembershipResult(reply, "members");
    }

    /// <summary>
    /// Adds member <paramref name="id"/> at <paramref name="endpoint"/> ("host:port") as a learner (thesis §4.2.1); unless
    /// <paramref name="asLearner"/>, the leader promotes it to voter once it has caught up. Returns once the learner entry
    /// applied (see <see cref="WaitForVoterAsync"/> to wait for the promotion). Adding the same id at the same address
    /// again is a no-op, so a retry is safe.
    /// </summary>
    /// <exception cref="RaftMembershipException">Duplicate id or address, removed id, or another change in progress.</exception>
    public async Task<NodeStatus> AddMemberAsync(string id, string endpoint, bool asLearner = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        ArgumentException.ThrowIfNullOrEmpty(endpoint);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.AddMember, Key = id, Endpoint = endpoint, AsLearner = asLearner },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return MembershipResult(reply, id);
    }

    /// <summary>
    /// Removes member <paramref name="id"/>. Refused if it would leave fewer reachable, caught-up voters than a quorum,
    /// unless <paramref name="force"/>. Removing the leader first moves leadership to another voter.
    /// </summary>
    /// <exception cref="RaftMembershipException">Unknown member, quorum would be lost, or another change in progress.</exception>
    public async Task<NodeStatus> RemoveMemberAsync(string id, bool force = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.RemoveMember, Key = id, Force = force },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return MembershipResult(reply, id);
    }

    /// <summary>Makes learner <paramref name="id"/> a voter now; refused if it is far behind, unless <paramref name="force"/>.</summary>
    /// <exception cref="RaftMembershipException">Unknown member, learner behind, or another change in progress.</exception>
    public async Task<NodeStatus> PromoteMemberAsync(string id, bool force = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.PromoteMember, Key = id, Force = force },
            Route.Leader, null, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return MembershipResult(reply, id);
    }

    /// <summary>
    /// Polls the leader until <paramref name="id"/> is a voter of a non-joint configuration, or the deadline passes.
    /// <paramref name="progress"/> sees each observation (for progress bars).
    /// </summary>
    /// <exception cref="RaftTimeoutException">It did not become a voter within <paramref name="timeout"/>.</exception>
    public async Task<NodeStatus> WaitForVoterAsync(string id, TimeSpan timeout, Action<MemberInfo?>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        long deadline = Now + (long)timeout.TotalMilliseconds;
        while (true)
        {
            var status = await MembersAsync(cancellationToken).ConfigureAwait(false);
            var member = status.Members.FirstOrDefault(m => m.Id == id);
            progress?.Invoke(member);
            // Voter of an applied, non-joint configuration: nothing about it is still in flight.
            if (member is { Role: MemberRoles.Voter } && !status.Joint && !status.ChangePending) return status;
            if (member is null) throw new RaftMembershipException(MembershipError.UnknownMember, $"'{id}' is not a member");
            if (Now >= deadline)
                throw new RaftTimeoutException($"'{id}' did not become a voter within {FormatMs((long)timeout.TotalMilliseconds)} (now {member.Role}, {member.Lag} entries behind)", false, []);
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private NodeStatus MembershipResult(ClientReply reply, string key)
    {
        if (reply.Status != ReplyStatus.Ok || reply.NodeStatus is null) throw ErrorFor(reply, key);
        LearnEndpoints(reply.NodeStatus);
        return reply.NodeStatus;
    }

    /// <summary>Adds members named by the configuration to the failover list (thread-safe: the array only grows).</summary>
    private void LearnEndpoints(NodeStatus status)
    {
        while (true)
        {
            var current = Volatile.Read(ref _endpoints);
            var added = new List<IPEndPoint>();
            foreach (var m in status.Members)
            {
                if (!IPAddress.TryParse(m.Host, out var address)) continue;
                var ep = new IPEndPoint(address, m.Port);
                if (!current.Contains(ep) && !added.Contains(ep)) added.Add(ep);
            }
            if (added.Count == 0) return;
            if (ReferenceEquals(Interlocked.CompareExchange(ref _endpoints, current.Concat(added).ToArray(), current), current)) return;
        }
    }

    /// <summary>Drills: the faults in force on the node at <paramref name="endpoint"/> (that node only).</summary>
    public async Task<FaultSpec> GetFaultsAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.GetFaults }, Route.Fixed, endpoint, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status == ReplyStatus.Ok ? reply.Faults ?? FaultSpec.None : throw ErrorFor(reply, endpoint.ToString());
    }

    /// <summary>Asks the node at <paramref name="endpoint"/> to snapshot its state and compact its log now; returns the snapshot's index.</summary>
    public async Task<ulong> SnapshotAsync(IPEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Snapshot }, Route.Fixed, endpoint, _deadlineMs, cancellationToken).ConfigureAwait(false);
        return reply.Status == ReplyStatus.Ok ? reply.Version : throw ErrorFor(reply, endpoint.ToString());
    }

    /// <summary>
    /// Drills: sets the transport faults of the node at <paramref name="endpoint"/> (that node only). Nodes refuse
    /// unless started with fault injection allowed. <see cref="FaultSpec.None"/> clears them.
    /// </summary>
    /// <exception cref="RaftBadRequestException">The node refused (fault injection disabled, unknown peer, bad values).</exception>
    public async Task SetFaultsAsync(IPEndPoint endpoint, FaultSpec faults, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(faults);
        if (faults.DropRate is < 0 or > 1 || double.IsNaN(faults.DropRate))
            throw new ArgumentOutOfRangeException(nameof(faults), faults.DropRate, "drop rate must be between 0 and 1");
        if (faults.DelayMs < 0 || faults.SuspendMs < 0)
            throw new ArgumentOutOfRangeException(nameof(faults), "delay and suspension must not be negative");
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.SetFaults, Faults = faults },
            Route.Fixed, endpoint, _deadlineMs, cancellationToken).ConfigureAwait(false);
        if (reply.Status != ReplyStatus.Ok)
            throw reply.Status == ReplyStatus.BadRequest
                ? new RaftBadRequestException($"node {endpoint} refused the faults: {reply.Error ?? "bad request"}")
                : ErrorFor(reply, endpoint.ToString());
    }

    // ------------------------------------------------------------------ the retry engine

    /// <summary>
    /// Runs one operation to a definitive reply (any status the caller maps to a result or a typed error) or throws
    /// <see cref="RaftUnavailableException"/>/<see cref="RaftTimeoutException"/> at the deadline.
    /// </summary>
    private async Task<ClientReply> ExecuteAsync(ClientRequest template, Route route, IPEndPoint? fixedTarget, long budgetMs, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        ThrowIfDisposed();
        long deadline = Now + budgetMs;
        bool isWrite = template.Op is ClientOp.Put or ClientOp.Delete or ClientOp.CompareAndSet;
        var lane = isWrite ? await _lanes.AcquireAsync(ct).ConfigureAwait(false) : null;
        bool resolved = false;
        try
        {
            // True once any attempt of the lane's current sequence might have been proposed. Every sent attempt
            // counts, NotLeader answers included: a leader that steps down answers NotLeader for proposals it already
            // appended, and those may still commit under the next leader. Only an attempt that never left does not.
            bool mayHaveApplied = false;
            int cursor = CurrentCursor();
            var target = route switch
            {
                Route.Fixed => fixedTarget!,
                Route.AnyNode => _options.PreferredEndpoint ?? KnownLeader ?? _endpoints[cursor],
                _ => KnownLeader ?? _endpoints[cursor],
            };
            int backoffs = 0, hops = 0, renewals = 0;
            Trace? trace = null;
            // An attempt squeezed into the last milliseconds would mostly time out, and for a write turn a clean
            // refusal into an unknown outcome: after the first attempt, stop when less than this is left.
            long minAttemptMs = Math.Min(_attemptMs, 20);
            bool attempted = false;
            while (true)
            {
                long remaining = deadline - Now;
                if (remaining <= 0 || (attempted && remaining < minAttemptMs)) break;
                attempted = true;
                var request = lane is null
                    ? template with { RequestId = NextRequestId() }
                    : template with { RequestId = NextRequestId(), ClientId = lane.ClientId, Sequence = lane.Sequence };
                // Marked before sending: a send that fails halfway may still have left the machine.
                if (lane is not null) lane.Sent = true;
                var (outcome, reply) = await AttemptAsync(request, target, Math.Min(_attemptMs, remaining), ct).ConfigureAwait(false);

                if (reply is null)
                {
                    mayHaveApplied |= isWrite && outcome != AttemptOutcome.SendFailed;
                    (trace ??= new()).Note(target, Describe(outcome));
                    if (route == Route.Fixed)
                    {
                        if (outcome == AttemptOutcome.SendFailed) await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        continue;
                    }
                    if (route == Route.Leader) ForgetLeader(target);
                    target = NextTarget(ref cursor, target, preferLeader: route == Route.Leader);
                    // A timeout already waited; a failed send returns at once and must not spin.
                    if (outcome == AttemptOutcome.SendFailed) await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                    continue;
                }

                switch (reply.Status)
                {
                    case ReplyStatus.NotLeader when route != Route.Fixed:
                    {
                        mayHaveApplied |= isWrite;
                        (trace ??= new()).Note(target, Describe(reply));
                        var hinted = route == Route.Leader ? ResolveHint(reply.LeaderEndpoint) : null;
                        if (hinted is not null && !hinted.Equals(target))
                        {
                            Volatile.Write(ref _leader, hinted);
                            target = hinted;
                            // Hints can chase each other while an election settles: free hops first, then back off.
                            if (++hops > 2) await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        }
                        else
                        {
                            if (route == Route.Leader) ForgetLeader(target);
                            target = NextTarget(ref cursor, target, preferLeader: route == Route.Leader);
                            await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        }
                        continue;
                    }
                    case ReplyStatus.Unavailable:
                        mayHaveApplied |= isWrite;
                        (trace ??= new()).Note(target, Describe(reply));
                        if (route != Route.Fixed)
                        {
                            if (route == Route.Leader) ForgetLeader(target);
                            target = NextTarget(ref cursor, target, preferLeader: route == Route.Leader);
                        }
                        await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        continue;

                    case ReplyStatus.Busy:
                        // Refused before it was queued (nothing applied): give the node room, then try again.
                        (trace ??= new()).Note(target, Describe(reply));
                        await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        continue;

                    case ReplyStatus.SessionExpired when lane is not null:
                        (trace ??= new()).Note(target, Describe(reply));
                        if (mayHaveApplied)
                        {
                            // An earlier send may have been applied before the session expired; only the caller can resolve that.
                            throw new RaftTimeoutException(
                                $"{Describe(template)}: the client session expired while an earlier attempt was unanswered; the write may or may not have been applied",
                                true, trace.Endpoints);
                        }
                        // The first send of this sequence: nothing of it was proposed before, and without a session it
                        // cannot be applied now, so a fresh session (new client id, sequence 1) is safe.
                        _lanes.Renew(lane);
                        if (++renewals > 1) await BackoffAsync(ref backoffs, deadline, ct).ConfigureAwait(false);
                        continue;

                    default:
                        if (lane is not null)
                        {
                            lane.Advance();
                            resolved = true;
                        }
                        if (route == Route.Leader && reply.Status is ReplyStatus.Ok or ReplyStatus.KeyNotFound or ReplyStatus.VersionMismatch)
                            RememberLeader(target, cursor);
                        return reply;
                }
            }

            var tried = trace?.Endpoints ?? [];
            string triedText = trace?.Describe() ?? "no attempt fitted in the time budget";
            if (isWrite && mayHaveApplied)
                throw new RaftTimeoutException(
                    $"{Describe(template)}: no definitive answer within {FormatMs(budgetMs)}; the write may or may not have been applied. Tried {triedText}",
                    true, tried);
            throw new RaftUnavailableException(
                route == Route.Fixed
                    ? $"{Describe(template)}: node {fixedTarget} did not answer within {FormatMs(budgetMs)} ({triedText})"
                    : $"{Describe(template)}: no leader with a quorum answered within {FormatMs(budgetMs)}. Tried {triedText}",
                tried);
        }
        finally
        {
            if (lane is not null)
            {
                // Never reuse (client id, sequence) for another request while the cluster may know it.
                if (!resolved && lane.Sent) _lanes.Renew(lane);
                _lanes.Release(lane);
            }
        }
    }

    private async Task<NodeStatus> StatusAsync(IPEndPoint endpoint, long budgetMs, CancellationToken ct)
    {
        var reply = await ExecuteAsync(new ClientRequest { Op = ClientOp.Status }, Route.Fixed, endpoint, budgetMs, ct).ConfigureAwait(false);
        if (reply is not { Status: ReplyStatus.Ok, NodeStatus: { } status })
            throw new RaftClientException($"node {endpoint} answered a status request with {reply.Status}{(reply.Error is null ? "" : $": {reply.Error}")}");
        if (IsLeaderRole(status.Role)) RememberLeader(endpoint);
        return status;
    }

    // ------------------------------------------------------------------ routing

    private static Route RouteFor(ReadConsistency consistency) => consistency == ReadConsistency.Stale ? Route.AnyNode : Route.Leader;

    private int CurrentCursor() => (int)((uint)Volatile.Read(ref _cursor) % (uint)_endpoints.Length);

    /// <summary>After <paramref name="failed"/> did not serve: the known leader if another node learned it, else the next endpoint.</summary>
    private IPEndPoint NextTarget(ref int cursor, IPEndPoint failed, bool preferLeader)
    {
        if (preferLeader && KnownLeader is { } leader && !leader.Equals(failed)) return leader;
        int n = _endpoints.Length;
        cursor = (cursor + 1) % n;
        if (n > 1 && _endpoints[cursor].Equals(failed)) cursor = (cursor + 1) % n;
        return _endpoints[cursor];
    }

    private void RememberLeader(IPEndPoint target, int cursor = -1)
    {
        if (!ReferenceEquals(Volatile.Read(ref _leader), target)) Volatile.Write(ref _leader, target);
        if (cursor >= 0 && _endpoints[cursor].Equals(target) && Volatile.Read(ref _cursor) != cursor) Volatile.Write(ref _cursor, cursor);
    }

    private void ForgetLeader(IPEndPoint target)
    {
        var leader = Volatile.Read(ref _leader);
        if (leader is not null && leader.Equals(target)) Interlocked.CompareExchange(ref _leader, null, leader);
    }

    /// <summary>"host:port" from a NotLeader reply, resolved once and cached; null when absent or unusable.</summary>
    private IPEndPoint? ResolveHint(string? hint)
    {
        if (string.IsNullOrEmpty(hint)) return null;
        if (_hints.TryGetValue(hint, out var cached)) return cached;
        IPEndPoint? ep;
        try
        {
            ep = ClusterDefinition.ParseEndpoint(hint);
            // Reuse our own instance for a known endpoint so reference checks and the address cache hit.
            ep = Array.Find(_endpoints, e => e.Equals(ep)) ?? ep;
        }
        catch (ClusterDefinitionException)
        {
            ep = null;
        }
        if (_hints.Count < 1024) _hints[hint] = ep;
        return ep;
    }

    /// <summary>The leader named in a status: its id looked up in the member list, or an endpoint string.</summary>
    private IPEndPoint? LeaderFromStatus(NodeStatus status)
    {
        if (string.IsNullOrEmpty(status.Leader)) return null;
        foreach (var m in status.Members)
        {
            if (string.Equals(m.Id, status.Leader, StringComparison.OrdinalIgnoreCase))
                return ResolveHint(ClusterDefinition.FormatEndpoint(m.Host, m.Port));
        }
        return status.Leader.Contains(':') ? ResolveHint(status.Leader) : null;
    }

    private static bool IsLeaderRole(string? role) => string.Equals(role, "Leader", StringComparison.OrdinalIgnoreCase);

    private Task BackoffAsync(ref int backoffs, long deadline, CancellationToken ct)
    {
        // Full exponential step, then jitter in [step/2, step] so clients that failed together do not retry together.
        double step = Math.Min(_maxBackoffMs, _minBackoffMs * Math.Pow(2, Math.Min(backoffs, 30)));
        backoffs++;
        double ms = Math.Min(step / 2 + Random.Shared.NextDouble() * step / 2, deadline - Now);
        return ms >= 1 ? Task.Delay(TimeSpan.FromMilliseconds(ms), ct) : Task.CompletedTask;
    }

    // ------------------------------------------------------------------ helpers

    private static void CheckKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0) throw new ArgumentException("key must not be empty", nameof(key));
        // Keys travel as UTF-8; an unpaired surrogate cannot.
        if (!IsWellFormed(key)) throw new ArgumentException("key is not well-formed Unicode (unpaired surrogate)", nameof(key));
    }

    // Unpaired surrogates cannot be encoded as UTF-8; everything else can.
    private static bool IsWellFormed(string s)
    {
        var span = s.AsSpan();
        int i = span.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0) return true;
        while (i < span.Length)
        {
            if (Rune.DecodeFromUtf16(span[i..], out _, out int consumed) != System.Buffers.OperationStatus.Done) return false;
            i += consumed;
        }
        return true;
    }

    private static void CheckConsistency(ReadConsistency consistency)
    {
        if (consistency is not (ReadConsistency.Linearizable or ReadConsistency.Stale))
            throw new ArgumentOutOfRangeException(nameof(consistency), consistency, "unknown read consistency");
    }

    private static KvItem WrittenItem(ClientReply reply, string key, byte[] value) =>
        reply.Items.Count > 0 ? reply.Items[0] : new KvItem(key, value, reply.Version);

    private static RaftClientException ErrorFor(ClientReply reply, string key) => reply.Status switch
    {
        ReplyStatus.KeyNotFound => new RaftKeyNotFoundException(key, reply.Error),
        ReplyStatus.VersionMismatch => new RaftVersionMismatchException(key, reply.Version, null),
        ReplyStatus.ValueTooLarge => new RaftValueTooLargeException(key, reply.Error),
        ReplyStatus.BadRequest => new RaftBadRequestException($"request for '{key}' rejected: {reply.Error ?? "bad request"}"),
        ReplyStatus.Unauthorized or ReplyStatus.Forbidden => RaftAccessDeniedException.For(reply),
        ReplyStatus.MembershipRejected => new RaftMembershipException(reply.MembershipError, reply.Error ?? $"membership change for '{key}' refused: {reply.MembershipError}"),
        _ => new RaftClientException($"unexpected reply {reply.Status} for '{key}'{(reply.Error is null ? "" : $": {reply.Error}")}"),
    };

    private static string Describe(ClientRequest r) => r.Op is ClientOp.Status or ClientOp.SetFaults ? r.Op.ToString() : $"{r.Op} '{r.Key}'";

    private static string Describe(AttemptOutcome outcome) => outcome == AttemptOutcome.SendFailed ? "send failed" : "no answer";

    private static string Describe(ClientReply reply) => reply.Status switch
    {
        ReplyStatus.NotLeader => reply.LeaderEndpoint is null ? "not leader, leader unknown" : $"not leader, leader {reply.LeaderEndpoint}",
        _ => reply.Error is null ? reply.Status.ToString() : $"{reply.Status}: {reply.Error}",
    };

    private static string FormatMs(long ms) =>
        ms >= 1000 ? (ms / 1000.0).ToString("0.###", CultureInfo.InvariantCulture) + " s" : ms.ToString(CultureInfo.InvariantCulture) + " ms";

    /// <summary>What each endpoint last said, for error messages. Only built once something fails.</summary>
    private sealed class Trace
    {
        public readonly List<IPEndPoint> Endpoints = new(4);
        private readonly List<(string Outcome, int Count)> _outcomes = new(4);

        public void Note(IPEndPoint endpoint, string outcome)
        {
            int i = Endpoints.IndexOf(endpoint);
            if (i < 0)
            {
                Endpoints.Add(endpoint);
                _outcomes.Add((outcome, 1));
            }
            else
            {
                _outcomes[i] = (outcome, _outcomes[i].Count + 1);
            }
        }

        public string Describe() =>
            string.Join(", ", Endpoints.Select((e, i) => $"{e} ({_outcomes[i].Outcome}{(_outcomes[i].Count > 1 ? $", {_outcomes[i].Count} attempts" : "")})"));
    }
}
