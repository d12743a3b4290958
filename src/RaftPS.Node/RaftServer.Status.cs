using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>What a node reports about itself and the cluster.</summary>
public sealed partial class RaftServer
{
    private string? NameOf(ulong nodeId) => _membersByNodeId.TryGetValue(nodeId, out var m) ? m.Id : null;

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
