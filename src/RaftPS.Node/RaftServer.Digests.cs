using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>
/// Replicas that cannot drift unnoticed: the leader appends a digest checkpoint every
/// <see cref="NodeOptions.DigestIntervalEntries"/> applied entries, or every as many entries as the state has keys if
/// that is more (so hashing costs O(1) per write however large the state), or on an operator's request. Every replica
/// hashes its state when it applies one (off the event loop, from a frozen view; one hash at a time, a checkpoint that
/// arrives meanwhile is not hashed), and the next checkpoint carries the leader's hash, which each replica compares with
/// its own at the same index. A difference means a replica's state is not what
/// the log implies (a bug, a damaged disk, a hand-edited data directory): it is logged as critical and reported in the
/// node's status, never silently served over.
/// </summary>
public sealed partial class RaftServer
{
    private const int DigestsKept = 16;
    private const int MaxCheckpointWaiters = 64;

    private readonly SortedList<ulong, UInt128> _digests = new();
    private readonly HashSet<ulong> _digestsInFlight = new();
    // Leader digests that arrived while this replica's own digest at that index was still being computed.
    private readonly Dictionary<ulong, UInt128> _digestsToCompare = new();
    // Operators waiting for a digest: each is answered by the first checkpoint appended after its request.
    private readonly List<(PendingRequest Request, ulong MinIndex)> _checkpointWaiters = new();
    private KvDigest? _lastDigest;
    private ulong _digestVerifiedIndex;
    private string? _digestMismatch;
    private long _entriesSinceCheckpoint;
    private ulong _checkpointProposedAt;

    /// <summary>This replica's latest digest, or null before its first checkpoint.</summary>
    public KvDigest? LastDigest => _lastDigest;

    /// <summary>Set once this replica's digest differed from the leader's at the same index.</summary>
    public string? DigestMismatch => _digestMismatch;

    private void RequestCheckpoint(ClientRequest r, System.Net.EndPoint from)
    {
        if (_checkpointWaiters.Count >= MaxCheckpointWaiters)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = "too many checkpoint requests waiting" });
            return;
        }
        _checkpointWaiters.Add((new PendingRequest(r, from), _raft.Log.LastIndex + 1));
    }

    /// <summary>Leader, after its first entry of the term applied: append a checkpoint when one is due and none is in flight.</summary>
    private void ProposeCheckpoint()
    {
        if (_raft.Role != Role.Leader) return;
        // Due while an operator waits (for a checkpoint appended after the request), or after the interval.
        bool due = _checkpointWaiters.Count > 0
            || (_options.DigestIntervalEntries > 0 && _entriesSinceCheckpoint >= Math.Max(_options.DigestIntervalEntries, _kv.Count));
        // One checkpoint in flight, and none while this node still hashes the last one (it would not hash the next).
        if (!due || _checkpointProposedAt > _kv.AppliedIndex || _digestsInFlight.Count > 0) return;
        if (_raft.Log.Term(_raft.Log.Applied) != _raft.Term) return; // after this term's no-op: the log is current
        var command = KvCommand.ForCheckpoint(_lastDigest, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        if (_raft.Propose(KvCommandCodec.Encode(command)) == 0) return;
        _checkpointProposedAt = _raft.Log.LastIndex;
        _entriesSinceCheckpoint = 0;
    }

    /// <summary>On the loop, when a checkpoint entry applied at <paramref name="index"/>.</summary>
    private void OnCheckpointApplied(ulong index, KvCheckpoint checkpoint)
    {
        _entriesSinceCheckpoint = 0;
        if (checkpoint.Reference is { } leader) CompareWithLeader(leader);
        // One hash at a time: a replica replaying or catching up over many checkpoints must not hold a full copy of the
        // state per checkpoint. The one skipped is simply not compared.
        if (_digestsInFlight.Count > 0) return;
        var view = _kv.CaptureSnapshot();
        _digestsInFlight.Add(index);
        _ = Task.Run(view.Digest).ContinueWith(
            t => Post(new LoopEvent.Invoke(() => OnDigestComputed(t.GetAwaiter().GetResult()))), TaskScheduler.Default);
    }

    private void OnDigestComputed(KvDigest digest)
    {
        ulong index = digest.AppliedIndex;
        _digestsInFlight.Remove(index);
        _digests[index] = digest.Hash;
        while (_digests.Count > DigestsKept) _digests.RemoveAt(0);
        if (_lastDigest is not { } last || last.AppliedIndex < index) _lastDigest = digest;
        if (_digestsToCompare.Remove(index, out var leaderHash)) CompareWithLeader(new KvDigest(index, leaderHash));
        // An operator learns the digest of a checkpoint appended after the request, once it exists.
        if (_raft.Role == Role.Leader && _checkpointWaiters.Exists(w => w.MinIndex <= index))
        {
            var status = BuildStatus();
            foreach (var (w, _) in _checkpointWaiters.Where(w => w.MinIndex <= index))
                Reply(w.ReplyTo, new ClientReply { RequestId = w.Request.RequestId, Version = index, NodeStatus = status });
            _checkpointWaiters.RemoveAll(w => w.MinIndex <= index);
        }
        PublishStatus();
    }

    private void CompareWithLeader(KvDigest leader)
    {
        if (_digestsInFlight.Contains(leader.AppliedIndex))
        {
            _digestsToCompare[leader.AppliedIndex] = leader.Hash;
            return;
        }
        // Not hashed here (restarted since, or installed a snapshot past it): nothing to compare.
        if (!_digests.TryGetValue(leader.AppliedIndex, out var mine)) return;
        if (mine == leader.Hash)
        {
            _digestVerifiedIndex = Math.Max(_digestVerifiedIndex, leader.AppliedIndex);
            return;
        }
        string mismatch = $"state digest at index {leader.AppliedIndex} differs from the leader's: this replica {mine:x32}, leader {leader.Hash:x32}";
        _digestMismatch ??= mismatch; // the first one stays reported: once drifted, the state stays suspect
        _log.LogCritical("{Node}: {Mismatch}; this replica's state is not what the log implies", _self.Id, mismatch);
    }

    private void FailCheckpointWaiters()
    {
        foreach (var (w, _) in _checkpointWaiters) Reply(w.ReplyTo, NotLeader(w.Request));
        _checkpointWaiters.Clear();
        _checkpointProposedAt = 0; // a proposal of ours that did not commit must not hold back the next leadership's
    }
}
