using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>Snapshot policy: when the live log grows past the threshold, snapshot the state machine and compact.</summary>
public sealed partial class RaftServer
{
    private long _bytesSinceSnapshot;

    /// <summary>An operator asked for a snapshot now (Save-RaftSnapshot): take one at the applied index, answer with it.</summary>
    private void RequestSnapshot(ClientRequest r, System.Net.EndPoint from)
    {
        MaybeSnapshot(force: true);
        Reply(from, new ClientReply { RequestId = r.RequestId, Version = _raft.Log.SnapshotIndex });
    }

    private void MaybeSnapshot(bool force = false)
    {
        var applied = _kv.AppliedIndex;
        if ((!force && _bytesSinceSnapshot < _options.SnapshotThresholdBytes) || applied <= _raft.Log.SnapshotIndex || applied != _raft.Log.Applied) return;
        var meta = new SnapshotMetadata(applied, _raft.Log.Term(applied)!.Value, _raft.ConfStateAt(applied));
        var snapshot = new Snapshot(meta, _kv.TakeSnapshot());
        _storage.SaveSnapshot(snapshot);
        var keep = (ulong)_options.EntriesKeptAfterSnapshot;
        _raft.Compact(snapshot, Math.Max(_raft.Log.SnapshotIndex, applied > keep ? applied - keep : 0));
        _bytesSinceSnapshot = 0;
        _log.LogInformation("snapshot at {Index}: {Keys} keys, {Bytes} bytes", applied, _kv.Count, snapshot.Data.Length);
    }
}
