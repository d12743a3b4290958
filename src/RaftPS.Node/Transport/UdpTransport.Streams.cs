using Microsoft.Extensions.Logging;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>Receives one snapshot stream datagram; the payload is only valid during the call.</summary>
public delegate void SnapshotStreamHandler(MessageKind kind, ulong from, ReadOnlySpan<byte> payload);

/// <summary>
/// Snapshot stream datagrams (<see cref="MessageKind.SnapshotChunk"/>, <see cref="MessageKind.SnapshotAck"/>): single
/// datagrams between peers that bypass the Raft codec and the reassembler, so a snapshot of any size moves as a stream
/// the node paces itself (see <c>Snapshots/SnapshotSender</c>). Peer fault injection applies to them as to Raft traffic.
/// </summary>
public sealed partial class UdpTransport
{
    /// <summary>A snapshot stream datagram from a peer (authenticated sender). Raised on the receive thread (or a timer thread when delayed).</summary>
    public event SnapshotStreamHandler? SnapshotStreamReceived;

    /// <summary>Largest payload one stream datagram can carry (it is never split).</summary>
    public int MaxStreamPayload => _framer.MaxChunkPayload;

    /// <summary>Sends a stream datagram to peer <paramref name="to"/>. False when it was not handed to the socket (unknown peer, fault, too large).</summary>
    public bool SendStream(ulong to, MessageKind kind, WireWriter payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (!IsStreamKind(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a snapshot stream kind");
        if (_disposed) return false;
        if (payload.Length > MaxStreamPayload) throw new ArgumentException($"stream payload of {payload.Length} bytes does not fit one datagram", nameof(payload));
        var faults = _faults;
        if (faults.Suspended || faults.PartitionedFrom.Contains(to))
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return false;
        }
        if (!Peers.TryGet(to, out var peer))
        {
            Counters.CountDrop(DropReason.UnknownPeer);
            return false;
        }
        var address = AddressOf(peer);
        _framer.Frame(kind, payload, (this, address, faults), static (s, d) => s.Item1.SendPeerDatagram(d, s.address, s.faults));
        return true;
    }

    private static bool IsStreamKind(MessageKind kind) => kind is MessageKind.SnapshotChunk or MessageKind.SnapshotAck;

    private void DeliverStream(MessageKind kind, ulong from, ReadOnlySpan<byte> payload, FaultSettings faults, System.Net.SocketAddress source)
    {
        // As for Raft messages: a sender missing from the address book (a joiner's leader) is answered where it speaks from.
        if (!Peers.TryGet(from, out _)) Peers.Set(from, EndPointOf(source));
        if (faults.Delay > TimeSpan.Zero)
        {
            _ = DeliverStreamLaterAsync(kind, from, payload.ToArray(), faults.Delay);
            return;
        }
        SnapshotStreamReceived?.Invoke(kind, from, payload);
    }

    private async Task DeliverStreamLaterAsync(MessageKind kind, ulong from, byte[] payload, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        var faults = _faults;
        if (faults.Suspended || faults.PartitionedFrom.Contains(from))
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        try
        {
            SnapshotStreamReceived?.Invoke(kind, from, payload);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Node {NodeId} failed handling a delayed snapshot stream datagram", NodeId);
        }
    }
}
