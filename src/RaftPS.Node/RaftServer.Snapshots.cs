using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.Storage;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>
/// Snapshot policy: when the live log grows past the threshold (or past the last snapshot's size, if larger), snapshot
/// the state machine and compact. Only the capture
/// (an immutable view: references, not values) runs on the loop; serializing, checksumming and writing the file run on
/// a background task, and the loop compacts when it hears the file is durable. One snapshot at a time.
/// </summary>
public sealed partial class RaftServer
{
    private long _bytesSinceSnapshot;
    // Size of the latest snapshot this node wrote: the next one waits for at least that much new log, so a large state is
    // not rewritten whole for every threshold's worth of writes (snapshot cost stays proportional to the log written).
    private long _lastSnapshotBytes;
    // The snapshot being serialized and written in the background, if any; completes after its completion was posted.
    private Task? _snapshotWrite;

    /// <summary>Test hook: awaited on the background task before it serializes and writes a snapshot.</summary>
    internal Func<Task>? BeforeSnapshotWrite { get; set; }

    /// <summary>Snapshots this node took of its own state and adopted (file durable, log compacted).</summary>
    public int SnapshotsTaken { get; private set; }

    /// <summary>An operator asked for a snapshot now (Save-RaftSnapshot): take one at the applied index, answer with it.</summary>
    private void RequestSnapshot(ClientRequest r, System.Net.EndPoint from)
    {
        MaybeSnapshot(force: true);
        // Answered once the background write is adopted (FinishSnapshot), or now if there was nothing new to snapshot.
        if (_snapshotWrite is not null) _snapshotWaiters.Add(new PendingRequest(r, from));
        else Reply(from, new ClientReply { RequestId = r.RequestId, Version = _storage.SnapshotIndex });
    }

    private readonly List<PendingRequest> _snapshotWaiters = new();

    private void AnswerSnapshotWaiters()
    {
        foreach (var w in _snapshotWaiters) Reply(w.ReplyTo, new ClientReply { RequestId = w.Request.RequestId, Version = _storage.SnapshotIndex });
        _snapshotWaiters.Clear();
    }

    private void MaybeSnapshot(bool force = false)
    {
        if (_snapshotWrite is not null) return;
        var applied = _kv.AppliedIndex;
        long due = Math.Max(_options.SnapshotThresholdBytes, _lastSnapshotBytes);
        if ((!force && _bytesSinceSnapshot < due) || applied <= _raft.Log.SnapshotIndex || applied != _raft.Log.Applied) return;
        var meta = new SnapshotMetadata(applied, _raft.Log.Term(applied)!.Value, _raft.ConfStateAt(applied));
        var view = _kv.CaptureSnapshot();
        _bytesSinceSnapshot = 0;
        string dir = _storage.Directory;
        bool fsync = _options.Fsync;
        var hook = BeforeSnapshotWrite;
        var started = NowMs;
        _snapshotWrite = Task.Run(async () =>
        {
            if (hook is not null) await hook().ConfigureAwait(false);
            var snapshot = new Snapshot(meta, view.Serialize());
            RaftStorage.WriteSnapshotFile(dir, snapshot, fsync);
            return snapshot;
        }).ContinueWith(write => Post(new LoopEvent.Invoke(() => FinishSnapshot(write, started))), TaskScheduler.Default);
    }

    /// <summary>On the loop: the background write finished; adopt the file and compact the log behind it.</summary>
    private void FinishSnapshot(Task<Snapshot> write, long started)
    {
        _snapshotWrite = null;
        // A failed write is a storage failure like any other on the loop: fail-stop.
        var snapshot = write.GetAwaiter().GetResult();
        _lastSnapshotBytes = snapshot.Data.LongLength;
        if (!_storage.AdoptSnapshot(snapshot))
        {
            AnswerSnapshotWaiters();
            return; // a snapshot at least as new was installed from the leader meanwhile
        }
        var keep = (ulong)_options.EntriesKeptAfterSnapshot;
        var applied = snapshot.Index;
        _raft.Compact(snapshot, Math.Max(_raft.Log.SnapshotIndex, applied > keep ? applied - keep : 0));
        SnapshotsTaken++;
        AnswerSnapshotWaiters();
        _log.LogInformation("snapshot at {Index}: {Bytes} bytes, written in the background in {Ms} ms", applied, snapshot.Data.Length, NowMs - started);
    }
}
