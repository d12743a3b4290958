using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>
/// Replicas that cannot drift unnoticed: the leader appends a digest checkpoint every
/// <see cref="NodeOptions.DigestIntervalEntries"/> applied entries (or on an operator's request). Every replica hashes
/// its state when it applies one (off the event loop, from a frozen view), and the next checkpoint carries the leader's
/// hash, which each replica compares with its own at the same index. A difference means a replica's state is not what
/// the log implies (a bug, a damaged disk, a hand-edited data directory): it is logged as critical and reported in the
/// node's status, never silently served over.
/// </summary>
public sealed partial class RaftServer
{
    private const int DigestsKept = 16;

    private readonly SortedList<ulong, UInt128> _digests = new();
    private readonly HashSet<ulong> _digestsInFlight = new();
    // Leader digests that arrived while this replica's own digest at that index was still being computed.
    private readonly Dictionary<ulong, UInt128> _digestsToCompare = new();
    private readonly List<PendingRequest> _checkpointWaiters = new();
    private KvDigest? _lastDigest;
    private ulong _digestVerifiedIndex;
    private string? _digestMismatch;
    private long _entriesSinceCheckpoint;
    private bool _checkpointRequested;
    private ulong _checkpointProposedAt;

    /// <summary>This replica's latest digest, or null before its first checkpoint.</summary>
    public KvDigest? LastDigest => _lastDigest;

    /// <summary>Set once this replica's digest differed from the leader's at the same index.</summary>
    public string? DigestMismatch => _digestMismatch;

    private void RequestCheckpoint(ClientRequest r, System.Net.EndPoint from)
    {
        _checkpointWaiters.Add(new PendingRequest(r, from));
        _checkpointRequested = true;
    }

    /// <summary>Leader, after its first entry of the term applied: append a checkpoint when one is due and none is in flight.</summary>
    private void ProposeCheckpoint()
    {
        if (_raft.Role != Role.Leader) return;
        bool due = _checkpointRequested || (_options.DigestIntervalEntries > 0 && _entriesSinceCheckpoint >= _options.DigestIntervalEntries);
        if (!due || _checkpointProposedAt > _kv.AppliedIndex) return;
        if (_raft.Log.Term(_raft.Log.Applied) != _raft.Term) return; // after this term's no-op: the log is current
        var command = KvCommand.ForCheckpoint(_lastDigest, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        if (_raft.Propose(KvCommandCodec.Encode(command)) == 0) return;
        _checkpointProposedAt = _raft.Log.LastIndex;
        _checkpointRequested = false;
        _entriesSinceCheckpoint = 0;
    }

    /// <summary>On the loop, when a checkpoint entry applied at <paramref name="index"/>.</summary>
    private void OnCheckpointApplied(ulong index, KvCheckpoint checkpoint)
    {
        _entriesSinceCheckpoint = 0;
        if (checkpoint.Reference is { } leader) CompareWithLeader(leader);
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
        // The operator who asked learns the digest only once it exists.
        if (_checkpointWaiters.Count > 0 && _raft.Role == Role.Leader && _checkpointProposedAt <= index)
        {
            var status = BuildStatus();
            foreach (var w in _checkpointWaiters) Reply(w.ReplyTo, new ClientReply { RequestId = w.Request.RequestId, Version = index, NodeStatus = status });
            _checkpointWaiters.Clear();
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
        _digestMismatch ??= $"state digest at index {leader.AppliedIndex} differs from the leader's: this replica {mine:x32}, leader {leader.Hash:x32}";
        _log.LogCritical("{Node}: {Mismatch}; this replica's state is not what the log implies", _self.Id, _digestMismatch);
    }

    private void FailCheckpointWaiters()
    {
        foreach (var w in _checkpointWaiters) Reply(w.ReplyTo, NotLeader(w.Request));
        _checkpointWaiters.Clear();
        _checkpointRequested = false;
        _checkpointProposedAt = 0; // a proposal of ours that did not commit must not hold back the next leadership's
    }
}
