using RaftPS.Consensus;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>What a node reports about itself and the cluster.</summary>
public sealed partial class RaftServer
{
    private string? NameOf(ulong nodeId) => _members.Find(nodeId)?.Id;

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
        Members = DescribeMembers(),
        Joint = _raft.Config.Voters.IsJoint,
        ChangePending = _raft.ConfChangePending,
        Removed = _removed,
        Joining = !_everMember,
        DigestIndex = _lastDigest?.AppliedIndex ?? 0,
        Digest = _lastDigest is { } digest ? $"{digest.Hash:x32}" : null,
        DigestVerifiedIndex = _digestVerifiedIndex,
        DigestMismatch = _digestMismatch,
    };

    private void PublishStatus()
    {
        var s = _status;
        if (s.Term != _raft.Term || s.Role != _raft.Role.ToString() || s.CommitIndex != _raft.Log.Committed ||
            s.AppliedIndex != _kv.AppliedIndex || s.LastIndex != _raft.Log.LastIndex || s.Leader != NameOf(_raft.Lead) ||
            s.SnapshotIndex != _raft.Log.SnapshotIndex || s.Members.Count != _members.Members.Count || s.Removed != _removed ||
            s.Joint != _raft.Config.Voters.IsJoint || s.DigestIndex != (_lastDigest?.AppliedIndex ?? 0) ||
            s.DigestVerifiedIndex != _digestVerifiedIndex || s.DigestMismatch != _digestMismatch)
            _status = BuildStatus();
    }
}
