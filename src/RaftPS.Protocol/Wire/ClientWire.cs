using System.Diagnostics.CodeAnalysis;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Client side of the wire, shared with the node's transport code: frames requests with sender = client id and
/// parses (and reassembles) replies, under the same <see cref="WireOptions"/> as the nodes. Thread-safe.
/// </summary>
public sealed class ClientWire
{
    private readonly DatagramFramer _framer;
    private readonly DatagramReceiver _receiver;

    public ClientWire(WireOptions options, ulong clusterId, ulong clientId)
    {
        ArgumentNullException.ThrowIfNull(options);
        Counters = new WireCounters();
        _framer = new DatagramFramer(options, clusterId, clientId);
        _receiver = new DatagramReceiver(options, clusterId, Counters, MessageKind.ClientReply);
    }

    public ulong ClientId => _framer.SenderId;
    public ulong ClusterId => _framer.ClusterId;
    public WireOptions Options => _framer.Options;
    /// <summary>Replies parsed and dropped (by reason), requests framed.</summary>
    public WireCounters Counters { get; }

    /// <summary>Frames <paramref name="request"/> into one or more datagrams handed to <paramref name="sink"/> (no copies for the common single-datagram case).</summary>
    /// <returns>Number of datagrams.</returns>
    /// <exception cref="WireFormatException">The request cannot be encoded (too large, invalid string).</exception>
    public int FrameRequest<TState>(ClientRequest request, TState state, DatagramSink<TState> sink)
    {
        var w = WireWriter.Rent();
        try
        {
            ClientCodec.Write(w, request);
            int n = _framer.Frame(MessageKind.ClientRequest, w, state, sink);
            for (int i = 0; i < n; i++) Counters.CountSent();
            return n;
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    /// <summary>Frames <paramref name="request"/>; each datagram as its own array.</summary>
    public IReadOnlyList<byte[]> FrameRequest(ClientRequest request)
    {
        var list = new List<byte[]>(1);
        FrameRequest(request, list, static (l, d) => l.Add(d.ToArray()));
        return list;
    }

    /// <summary>
    /// Feeds one received datagram. True when it completed a reply (a single datagram, or the last missing chunk).
    /// Never throws for bad input: invalid datagrams are counted in <see cref="Counters"/> and yield false.
    /// </summary>
    /// <param name="now">Milliseconds of a monotonic clock (e.g. <see cref="Environment.TickCount64"/>), for reassembly timeouts.</param>
    public bool TryParseReply(ReadOnlySpan<byte> datagram, long now, [NotNullWhen(true)] out ClientReply? reply)
    {
        reply = null;
        if (!_receiver.TryReceive(datagram, now, out var message)) return false;
        if (ClientCodec.TryReadReply(message.Payload, out reply)) return true;
        Counters.CountDrop(DropReason.Malformed);
        return false;
    }
}
