using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.SnapshotStreaming;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node;

/// <summary>
/// Snapshot streaming: InstallSnapshot messages the core emits go to the <see cref="SnapshotSender"/> instead of the
/// transport (no 64 MiB message limit, flow control, resume after loss); streams arriving here are rebuilt by the
/// <see cref="SnapshotReceiver"/> and posted to the loop as if the message had arrived whole. The core is unaware.
/// </summary>
public sealed partial class RaftServer
{
    /// <summary>Where a follower keeps partial incoming snapshot streams, inside the data directory.</summary>
    public const string IncomingSnapshotDirectory = "incoming";

    private SnapshotSender _snapshotSender = null!;
    private SnapshotReceiver _snapshotReceiver = null!;

    /// <summary>Raised (on a background thread) when a snapshot stream this node sent as leader ends.</summary>
    public event Action<SnapshotTransferReport>? SnapshotTransferEnded;

    /// <summary>Snapshots this node received whole by stream and handed to its loop.</summary>
    public int SnapshotsReceived => _snapshotReceiver.DeliveredCount;

    private void StartSnapshotStreaming()
    {
        var link = new UdpSnapshotLink(_transport);
        _snapshotSender = new SnapshotSender(link, _options.SnapshotStreams, _log, "-" + _self.Id);
        _snapshotSender.TransferEnded += r => SnapshotTransferEnded?.Invoke(r);
        _snapshotReceiver = new SnapshotReceiver(_self.NodeId, Path.Combine(_storage.Directory, IncomingSnapshotDirectory), link,
            m => Post(new LoopEvent.Peer(m)), _options.SnapshotStreams, _log);
        _transport.SnapshotStreamReceived += OnSnapshotStream;
    }

    /// <summary>Sends a message the core emitted; snapshots go by stream.</summary>
    private void SendToPeer(Message m)
    {
        if (m.Type == MessageType.InstallSnapshot && m.Snapshot is not null) _snapshotSender.Start(m);
        else _transport.Send(m);
    }

    // Transport receive thread.
    private void OnSnapshotStream(MessageKind kind, ulong from, ReadOnlySpan<byte> payload)
    {
        if (kind == MessageKind.SnapshotChunk)
        {
            _snapshotReceiver.OnChunk(from, payload);
            return;
        }
        SnapshotAck ack;
        try
        {
            ack = SnapshotStreamCodec.ReadAck(payload);
        }
        catch (WireFormatException e)
        {
            _log.LogDebug("malformed snapshot ack from {From}: {Error}", from, e.Message);
            return;
        }
        _snapshotSender.OnAck(from, ack);
    }

    /// <summary>After the transport is closed: end streams, delete partial files, wait for a snapshot being written.</summary>
    private async Task StopSnapshotWorkAsync()
    {
        _snapshotSender?.Dispose();
        _snapshotReceiver?.Dispose();
        if (_snapshotWrite is { } write)
        {
            try { await write.ConfigureAwait(false); } catch (Exception ex) { _log.LogDebug(ex, "snapshot write ended with error"); }
        }
    }
}
