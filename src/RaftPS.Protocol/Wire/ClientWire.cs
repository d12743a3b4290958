using System.Diagnostics.CodeAnalysis;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// Client side of the wire, shared with the node's transport code: frames requests with sender = client id, sealed
/// under the admin key if the keyring has one, else the client key, else plaintext; parses (and reassembles) replies,
/// which must be sealed under one of our keys — except a plaintext <see cref="ReplyStatus.Unauthorized"/>, the one
/// answer a node can give a request it could not open. Thread-safe.
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

    /// <summary>The role requests are sent as (<see cref="CredentialRole.None"/>: plaintext).</summary>
    public CredentialRole Role => _framer.DefaultKey(MessageKind.ClientRequest)?.Role ?? CredentialRole.None;

    /// <summary>The keys requests are sealed and replies opened with; assign a new keyring to rotate.</summary>
    public Keyring Keys
    {
        get => _framer.Keys;
        set
        {
            _framer.Keys = value;
            _receiver.Keys = value;
        }
    }

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
    public bool TryParseReply(Span<byte> datagram, long now, [NotNullWhen(true)] out ClientReply? reply)
    {
        reply = null;
        if (!_receiver.TryReceive(datagram, now, out var message, out var role)) return false;
        if (!ClientCodec.TryReadReply(message.Payload, out reply))
        {
            Counters.CountDrop(DropReason.Malformed);
            return false;
        }
        // Anyone can send plaintext: a keyed client believes a plaintext reply only when it says "unauthorized" (all an
        // impostor gains is failing a request it could have dropped), and carries nothing else.
        if (role == CredentialRole.None && Role != CredentialRole.None &&
            (reply.Status != ReplyStatus.Unauthorized || reply.Items.Count > 0 || reply.NodeStatus is not null))
        {
            reply = null;
            Counters.CountDrop(DropReason.Unauthenticated);
            return false;
        }
        return true;
    }
}
