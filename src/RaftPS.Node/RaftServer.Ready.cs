using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>The Ready cycle: send early, persist (group commit), send the rest, apply, answer.</summary>
public sealed partial class RaftServer
{
    private HardState _persisted;

    private void ProcessReady()
    {
        while (_raft.HasReady())
        {
            var rd = _raft.GetReady();
            // A leader may send its appends before its own disk write (thesis §10.2.1): the entries only count as committed
            // once a majority has them durably, and follower acknowledgements are handled in a later loop round, after this
            // round's fsync (no input is handled inside this method).
            var (early, afterPersist) = rd.SplitForEarlySend(_raft.Role, _persisted);
            foreach (var m in early) SendToPeer(m);
            // 1. Persist: snapshot, entries and hard state, fsynced before anything that depends on them leaves this node
            //    (paper Fig. 2). One Sync covers every record of this round.
            if (rd.Snapshot is { } snapshot) _storage.SaveSnapshot(snapshot);
            if (rd.HardState is not null || rd.Entries.Count > 0) _storage.Append(rd.HardState, rd.Entries);
            if (rd.MustSync) _storage.Sync();
            if (rd.HardState is { } persisted) _persisted = persisted;
            foreach (var e in rd.Entries) _bytesSinceSnapshot += e.Size;
            // 2. Send the rest: votes and acknowledgements only now that what they promise is durable.
            foreach (var m in afterPersist) SendToPeer(m);
            // 3. Apply.
            if (rd.Snapshot is { } installed)
            {
                var kv = new KvStateMachine();
                kv.Restore(installed.Data);
                _kv = kv;
                _lastSnapshotBytes = installed.Data.LongLength;
                _log.LogInformation("installed snapshot at {Index} (term {Term}) from the leader", installed.Index, installed.Term);
                NoteAppliedConfiguration(installed.Metadata.ConfState, installed.Index);
            }
            foreach (var e in rd.CommittedEntries) Apply(e);
            foreach (var rs in rd.ReadStates)
            {
                var ctx = BinaryPrimitives.ReadUInt64LittleEndian(rs.Context);
                if (_readsByContext.Remove(ctx, out var reads)) _confirmedReads.Add((rs.Index, reads));
            }
            _raft.Advance(rd);
            FollowConfiguration();
            ServeConfirmedReads();
            NoticeRoleChanges();
            MaybeSnapshot();
        }
    }

    private void Apply(Entry e)
    {
        if (e.Index <= _kv.AppliedIndex) return; // already in the installed snapshot
        _entriesSinceCheckpoint++;
        if (e.Type != EntryType.Normal)
        {
            _kv.ApplyNoop(e.Index);
            if (e.Type == EntryType.ConfChange) OnConfigurationApplied(e);
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
        if (cmd.Checkpoint is { } checkpoint) OnCheckpointApplied(e.Index, checkpoint);
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
            foreach (var m in _pendingMembership.Values.SelectMany(l => l)) Reply(m.ReplyTo, NotLeader(m.Request));
            _pendingMembership.Clear();
            _snapshotSender.CancelAll(); // streams carry this term's InstallSnapshot messages
            FailCheckpointWaiters();
        }
        if (role != _lastRole || _raft.Term != _lastTerm)
            _log.LogInformation("{Node}: {Role} in term {Term} (leader {Leader})", _self.Id, role, _raft.Term, NameOf(_raft.Lead) ?? "unknown");
        _lastRole = role;
        _lastTerm = _raft.Term;
        _lastLead = _raft.Lead;
    }
}
