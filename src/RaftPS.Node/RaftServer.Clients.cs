using System.Buffers.Binary;
using System.Net;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>Client admission: validation, batching writes into one proposal and reads into one ReadIndex, replies.</summary>
public sealed partial class RaftServer
{
    // Reads accepted and not yet answered (batched, waiting for a quorum, or waiting for apply): bounds memory per read.
    private int _pendingReads;

    /// <summary>Test hook: reads accepted and not yet answered (read off the loop thread: a snapshot, for polling).</summary>
    internal int PendingReads => Volatile.Read(ref _pendingReads);

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
            case ClientOp.GetFaults:
                Reply(from, _options.AllowFaultInjection
                    ? new ClientReply { RequestId = r.RequestId, Faults = CurrentFaults() }
                    : new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.BadRequest, Error = "fault injection is disabled on this node" });
                return;
            case ClientOp.Snapshot:
                RequestSnapshot(r, from);
                return;
            case ClientOp.Get or ClientOp.List when r.Consistency == ReadConsistency.Stale:
                // Explicitly stale: served from this node's state without confirming anything, and labelled as such.
                Reply(from, Read(r) with { Stale = true });
                return;
        }
        if (_removed)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = $"{_self.Id} was removed from the cluster" });
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
                var target = _members.Find(r.Key);
                if (target is null || !_raft.Config.IsVoter(target.NodeId))
                    Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.BadRequest, Error = $"'{r.Key}' is not a voting member" });
                else if (target.NodeId == _self.NodeId || _raft.TransferLeadership(target.NodeId))
                    Reply(from, new ClientReply { RequestId = r.RequestId, LeaderId = target.Id, LeaderEndpoint = target.Endpoint });
                else
                    Reply(from, NotLeader(r));
                break;
            case ClientOp.Members or ClientOp.AddMember or ClientOp.RemoveMember or ClientOp.PromoteMember:
                HandleMembership(r, from);
                break;
            case ClientOp.Checkpoint:
                RequestCheckpoint(r, from);
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
        // Paged (ListPaging): bounded reply size and bounded work per event-loop step.
        var items = _kv.ListPage(r.Key, r.After, ListPaging.PageSize(r.Limit), ListPaging.MaxPageBytes, ListPaging.MaxScannedKeys, out var next);
        return new ClientReply { RequestId = r.RequestId, Items = items, ContinuationToken = next };
    }

    private void Reply(EndPoint to, ClientReply reply) => _transport.SendReply(reply, to);

    private ClientReply NotLeader(ClientRequest r)
    {
        var leader = _members.Find(_raft.Lead);
        return new ClientReply
        {
            RequestId = r.RequestId,
            Status = ReplyStatus.NotLeader,
            LeaderId = leader?.Id,
            LeaderEndpoint = leader?.Endpoint,
            Error = leader is null ? "no leader known" : $"not the leader; last known leader is {leader.Id}",
        };
    }
}
