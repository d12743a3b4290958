using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node;

public sealed partial class RaftServer
{
    private const int MaxEventsPerBatch = 4096;
    private long _bytesSinceSnapshot;
    private HardState _persisted;
    // Reads accepted and not yet answered (batched, waiting for a quorum, or waiting for apply): bounds memory per read.
    private int _pendingReads;

    private void RunLoopThread()
    {
        try
        {
            RunLoop();
            _loopDone.TrySetResult();
        }
        catch (Exception ex)
        {
            // Fail-stop: after a storage or invariant failure the node must not keep answering.
            _log.LogCritical(ex, "node {Node} stopped: {Message}", _self.Id, ex.Message);
            _closed = true;
            _stop.Cancel();
            _loopDone.TrySetException(ex);
        }
    }

    private void RunLoop()
    {
        // Ticks come from the loop's own clock instead of a timer thread posting events: no extra wake-ups, and a loop
        // that fell behind (a slow fsync) gets one tick instead of a burst that could expire an election timeout
        // before the heartbeats queued meanwhile are seen.
        long interval = Math.Max(1, (long)(_options.TickInterval.TotalSeconds * Stopwatch.Frequency));
        long nextTick = Stopwatch.GetTimestamp() + interval;
        while (!_stop.IsCancellationRequested)
        {
            // Reset before draining: an event enqueued after the drain finds the signal cleared and sets it again.
            _wake.Reset();
            long now = Stopwatch.GetTimestamp();
            bool ticked = now >= nextTick;
            if (ticked)
            {
                nextTick += interval;
                if (nextTick <= now) nextTick = now + interval;
            }
            // Drain what is queued, then do one round of persistence: every write accepted in this round shares one
            // fsync (group commit) and one append message per follower.
            int n = 0;
            for (; n < MaxEventsPerBatch && _events.TryDequeue(out var ev); n++) Handle(ev);
            if (ticked) Handle(LoopEvent.Tick.Instance);
            if (n > 0 || ticked)
            {
                FlushBatches();
                ProcessReady();
                // A step-down (e.g. CheckQuorum) need not produce a Ready; answer the waiting clients anyway.
                NoticeRoleChanges();
                PublishStatus();
                continue;
            }
            long waitTicks = nextTick - Stopwatch.GetTimestamp();
            if (waitTicks > 0) _wake.Wait((int)Math.Max(1, (waitTicks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
        }
    }

    private void Handle(LoopEvent ev)
    {
        switch (ev)
        {
            case LoopEvent.Peer p:
                if (IsWellFormedPeerMessage(p.Message)) _raft.Step(p.Message);
                break;
            case LoopEvent.Client c:
                HandleClient(c.Request, c.From);
                break;
            case LoopEvent.Tick:
                _raft.Tick();
                break;
            case LoopEvent.Invoke i:
                i.Action();
                break;
        }
    }

    /// <summary>
    /// Peers are authenticated by the transport (cluster id, sender, optional key), but a datagram can still carry a
    /// message a correct peer never sends; those are dropped here instead of reaching the core.
    /// </summary>
    private bool IsWellFormedPeerMessage(Message m)
    {
        if (m.To != _self.NodeId || m.Term == 0 || !_membersByNodeId.ContainsKey(m.From) || m.From == _self.NodeId) return false;
        if (m.Type is MessageType.Hup or MessageType.Beat) return false; // local-only kinds
        for (int i = 0; i < m.Entries.Count; i++)
        {
            var e = m.Entries[i];
            if (e.Index != m.Index + 1 + (ulong)i || e.Term > m.Term || e.Term == 0) return false;
        }
        if (m.Type == MessageType.InstallSnapshot && (m.Snapshot is null || m.Snapshot.Index == 0)) return false;
        return true;
    }

    // ------------------------------------------------------------------ client requests

    private void HandleClient(ClientRequest r, EndPoint from)
    {
        var (status, error) = KvValidator.Validate(r, _options.Kv);
        if (status != ReplyStatus.Ok)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = status, Error = error });
            return;
        }
        switch (r.Op)
        {
            case ClientOp.Status:
                Reply(from, new ClientReply { RequestId = r.RequestId, NodeStatus = BuildStatus() });
                return;
            case ClientOp.SetFaults:
                SetFaults(r, from);
                return;
            case ClientOp.Get or ClientOp.List when r.Consistency == ReadConsistency.Stale:
                // Explicitly stale: served from this node's state without confirming anything, and labelled as such.
                Reply(from, Read(r) with { Stale = true });
                return;
        }
        if (_raft.Role != Role.Leader)
        {
            Reply(from, NotLeader(r));
            return;
        }
        if (_pendingWrites.Count + _pendingReads >= _options.MaxPendingRequests)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = "node overloaded: too many pending requests" });
            return;
        }
        switch (r.Op)
        {
            case ClientOp.TransferLeadership:
                var target = _options.Cluster.Find(r.Key);
                if (target is null || !_raft.Config.IsVoter(target.NodeId))
                    Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.BadRequest, Error = $"'{r.Key}' is not a voting member" });
                else if (target.NodeId == _self.NodeId || _raft.TransferLeadership(target.NodeId))
                    Reply(from, new ClientReply { RequestId = r.RequestId, LeaderId = target.Id, LeaderEndpoint = target.Endpoint });
                else
                    Reply(from, NotLeader(r));
                break;
            case ClientOp.Get or ClientOp.List:
                _readBatch.Add(new PendingRequest(r, from));
                _pendingReads++;
                break;
            default:
                // A retry of a write already proposed only replaces the waiter: the newest attempt is answered when it applies.
                bool proposed = _pendingWrites.ContainsKey((r.ClientId, r.Sequence));
                _pendingWrites[(r.ClientId, r.Sequence)] = new PendingRequest(r, from);
                if (!proposed) _proposalBatch.Add(KvCommand.FromRequest(r, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
                break;
        }
    }

    private void FlushBatches()
    {
        if (_proposalBatch.Count > 0)
        {
            var commands = new byte[_proposalBatch.Count][];
            for (int i = 0; i < commands.Length; i++) commands[i] = KvCommandCodec.Encode(_proposalBatch[i]);
            if (_raft.Propose(commands) == 0)
            {
                foreach (var cmd in _proposalBatch)
                {
                    // Answer the newest attempt: a retry in the same batch replaced the waiter.
                    if (_pendingWrites.Remove((cmd.ClientId, cmd.Sequence), out var w)) Reply(w.ReplyTo, NotLeader(w.Request));
                }
            }
            _proposalBatch.Clear();
        }
        if (_readBatch.Count > 0)
        {
            // One ReadIndex (one heartbeat round) confirms every read that arrived in this batch (thesis §6.4).
            var ctx = ++_nextReadContext;
            var context = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(context, ctx);
            var reads = _readBatch.ToList();
            _readBatch.Clear();
            if (_raft.ReadIndex(context)) _readsByContext[ctx] = reads;
            else
            {
                _pendingReads -= reads.Count;
                foreach (var rd in reads) Reply(rd.ReplyTo, NotLeader(rd.Request));
            }
        }
    }

    // ------------------------------------------------------------------ the Ready cycle

    private void ProcessReady()
    {
        while (_raft.HasReady())
        {
            var rd = _raft.GetReady();
            // A leader may send its appends before its own disk write (thesis §10.2.1): the entries only count as committed
            // once a majority has them durably, and follower acknowledgements are handled in a later loop round, after this
            // round's fsync (no input is handled inside this method).
            var (early, afterPersist) = rd.SplitForEarlySend(_raft.Role, _persisted);
            foreach (var m in early) _transport.Send(m);
            // 1. Persist: snapshot, entries and hard state, fsynced before anything that depends on them leaves this node
            //    (paper Fig. 2). One Sync covers every record of this round.
            if (rd.Snapshot is { } snapshot) _storage.SaveSnapshot(snapshot);
            if (rd.HardState is not null || rd.Entries.Count > 0) _storage.Append(rd.HardState, rd.Entries);
            if (rd.MustSync) _storage.Sync();
            if (rd.HardState is { } persisted) _persisted = persisted;
            foreach (var e in rd.Entries) _bytesSinceSnapshot += e.Size;
            // 2. Send the rest: votes and acknowledgements only now that what they promise is durable.
            foreach (var m in afterPersist) _transport.Send(m);
            // 3. Apply.
            if (rd.Snapshot is { } installed)
            {
                var kv = new KvStateMachine();
                kv.Restore(installed.Data);
                _kv = kv;
                _log.LogInformation("installed snapshot at {Index} (term {Term}) from the leader", installed.Index, installed.Term);
            }
            foreach (var e in rd.CommittedEntries) Apply(e);
            foreach (var rs in rd.ReadStates)
            {
                var ctx = BinaryPrimitives.ReadUInt64LittleEndian(rs.Context);
                if (_readsByContext.Remove(ctx, out var reads)) _confirmedReads.Add((rs.Index, reads));
            }
            _raft.Advance(rd);
            ServeConfirmedReads();
            NoticeRoleChanges();
            MaybeSnapshot();
        }
    }

    private void Apply(Entry e)
    {
        if (e.Index <= _kv.AppliedIndex) return; // already in the installed snapshot
        if (e.Type != EntryType.Normal)
        {
            _kv.ApplyNoop(e.Index);
            return;
        }
        KvCommand cmd;
        try
        {
            cmd = KvCommandCodec.Decode(e.Data);
        }
        catch (KvDataException ex)
        {
            // Every replica sees the same bytes and skips them the same way.
            _log.LogError(ex, "entry {Index} holds an undecodable command; applied as a no-op", e.Index);
            _kv.ApplyNoop(e.Index);
            return;
        }
        var result = _kv.Apply(e.Index, cmd);
        if (_pendingWrites.Remove((cmd.ClientId, cmd.Sequence), out var w))
        {
            Reply(w.ReplyTo, new ClientReply
            {
                RequestId = w.Request.RequestId, Status = result.Status, Version = result.Version,
                Items = result.Item is { } item ? [item] : [],
                Error = result.Status == ReplyStatus.Ok ? null : DescribeFailure(result),
            });
        }
    }

    private static string DescribeFailure(KvResult r) => r.Status switch
    {
        ReplyStatus.KeyNotFound => "key not found",
        ReplyStatus.VersionMismatch => $"version mismatch: current version is {r.Version}",
        ReplyStatus.SessionExpired => "client session expired; the outcome of the earlier attempt is unknown",
        ReplyStatus.BadRequest => "request rejected by the state machine (stale duplicate or malformed)",
        _ => r.Status.ToString(),
    };

    private void ServeConfirmedReads()
    {
        // Thesis §6.4 step 4: serve once the state machine has applied at least up to the read index.
        for (int i = 0; i < _confirmedReads.Count;)
        {
            var (index, reads) = _confirmedReads[i];
            if (index > _kv.AppliedIndex) { i++; continue; }
            _confirmedReads.RemoveAt(i);
            _pendingReads -= reads.Count;
            foreach (var rd in reads) Reply(rd.ReplyTo, Read(rd.Request));
        }
    }

    private ClientReply Read(ClientRequest r)
    {
        if (r.Op == ClientOp.Get)
        {
            var item = _kv.Get(r.Key);
            return item is null
                ? new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.KeyNotFound, Error = $"key '{r.Key}' not found" }
                : new ClientReply { RequestId = r.RequestId, Items = [item], Version = item.Version };
        }
        return new ClientReply { RequestId = r.RequestId, Items = _kv.List(r.Key, r.Limit).ToArray() };
    }

    private void NoticeRoleChanges()
    {
        var role = _raft.Role;
        if (role == _lastRole && _raft.Term == _lastTerm && _raft.Lead == _lastLead) return;
        if (_lastRole == Role.Leader && role != Role.Leader)
        {
            // Our proposals may still commit under the next leader; clients retry there with the same session sequence,
            // and the state machine applies each write once.
            foreach (var w in _pendingWrites.Values) Reply(w.ReplyTo, NotLeader(w.Request));
            _pendingWrites.Clear();
            foreach (var reads in _readsByContext.Values) foreach (var rd in reads) Reply(rd.ReplyTo, NotLeader(rd.Request));
            _readsByContext.Clear();
            foreach (var (_, reads) in _confirmedReads) foreach (var rd in reads) Reply(rd.ReplyTo, NotLeader(rd.Request));
            _confirmedReads.Clear();
            _pendingReads = _readBatch.Count;
        }
        if (role != _lastRole || _raft.Term != _lastTerm)
            _log.LogInformation("{Node}: {Role} in term {Term} (leader {Leader})", _self.Id, role, _raft.Term, NameOf(_raft.Lead) ?? "unknown");
        _lastRole = role;
        _lastTerm = _raft.Term;
        _lastLead = _raft.Lead;
    }

    private void MaybeSnapshot()
    {
        var applied = _kv.AppliedIndex;
        if (_bytesSinceSnapshot < _options.SnapshotThresholdBytes || applied <= _raft.Log.SnapshotIndex || applied != _raft.Log.Applied) return;
        var meta = new SnapshotMetadata(applied, _raft.Log.Term(applied)!.Value, _raft.ConfStateAt(applied));
        var snapshot = new Snapshot(meta, _kv.TakeSnapshot());
        _storage.SaveSnapshot(snapshot);
        var keep = (ulong)_options.EntriesKeptAfterSnapshot;
        _raft.Compact(snapshot, Math.Max(_raft.Log.SnapshotIndex, applied > keep ? applied - keep : 0));
        _bytesSinceSnapshot = 0;
        _log.LogInformation("snapshot at {Index}: {Keys} keys, {Bytes} bytes", applied, _kv.Count, snapshot.Data.Length);
    }

    private long _faultGeneration;

    private void SetFaults(ClientRequest r, EndPoint from)
    {
        ClientReply Bad(string error) => new() { RequestId = r.RequestId, Status = ReplyStatus.BadRequest, Error = error };
        if (!_options.AllowFaultInjection)
        {
            Reply(from, Bad("fault injection is disabled on this node (start it with fault injection allowed)"));
            return;
        }
        var spec = r.Faults ?? FaultSpec.None;
        var peers = new HashSet<ulong>();
        foreach (var id in spec.PartitionFrom)
        {
            var m = _options.Cluster.Find(id);
            if (m is null)
            {
                Reply(from, Bad($"'{id}' is not a cluster member"));
                return;
            }
            peers.Add(m.NodeId);
        }
        if (spec.DelayMs < 0 || spec.SuspendMs < 0)
        {
            Reply(from, Bad("delay and suspension must not be negative"));
            return;
        }
        var settings = new FaultSettings
        {
            DropRate = spec.DropRate, Delay = TimeSpan.FromMilliseconds(spec.DelayMs), PartitionedFrom = peers, Suspended = spec.SuspendMs > 0,
        };
        // Reply before a suspension takes effect, and lift it by itself: a suspended node hears nothing, not even "resume".
        Reply(from, new ClientReply { RequestId = r.RequestId });
        var generation = Interlocked.Increment(ref _faultGeneration);
        _transport.Faults = settings;
        _log.LogWarning("fault injection: drop {Drop:P0}, delay {Delay} ms, partitioned from [{Peers}], suspended {Suspend} ms",
            spec.DropRate, spec.DelayMs, string.Join(",", spec.PartitionFrom), spec.SuspendMs);
        if (spec.SuspendMs > 0)
        {
            var resumed = settings with { Suspended = false };
            _ = Task.Delay(spec.SuspendMs, _stop.Token).ContinueWith(t =>
            {
                // Only if no newer fault setting replaced this one meanwhile.
                if (!t.IsCanceled && Interlocked.Read(ref _faultGeneration) == generation) _transport.Faults = resumed;
            }, TaskScheduler.Default);
        }
    }

    // ------------------------------------------------------------------ replies and status

    private void Reply(EndPoint to, ClientReply reply) => _transport.SendReply(reply, to);

    private string? NameOf(ulong nodeId) => _membersByNodeId.TryGetValue(nodeId, out var m) ? m.Id : null;

    private ClientReply NotLeader(ClientRequest r)
    {
        var lead = _raft.Lead;
        _membersByNodeId.TryGetValue(lead, out var leader);
        return new ClientReply
        {
            RequestId = r.RequestId,
            Status = ReplyStatus.NotLeader,
            LeaderId = leader?.Id,
            LeaderEndpoint = leader?.Endpoint,
            Error = leader is null ? "no leader known" : $"not the leader; last known leader is {leader.Id}",
        };
    }

    private NodeStatus BuildStatus() => new()
    {
        Id = _self.Id,
        Role = _raft.Role.ToString(),
        Term = _raft.Term,
        Leader = NameOf(_raft.Lead),
        CommitIndex = _raft.Log.Committed,
        AppliedIndex = _kv.AppliedIndex,
        LastIndex = _raft.Log.LastIndex,
        SnapshotIndex = _raft.Log.SnapshotIndex,
        Members = _options.Cluster.Members.Select(m => new MemberInfo(m.Id, m.Host, m.Port, _raft.Config.IsVoter(m.NodeId))).ToArray(),
    };

    private void PublishStatus()
    {
        var s = _status;
        if (s.Term != _raft.Term || s.Role != _raft.Role.ToString() || s.CommitIndex != _raft.Log.Committed ||
            s.AppliedIndex != _kv.AppliedIndex || s.LastIndex != _raft.Log.LastIndex || s.Leader != NameOf(_raft.Lead) ||
            s.SnapshotIndex != _raft.Log.SnapshotIndex)
            _status = BuildStatus();
    }
}
