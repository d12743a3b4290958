namespace RaftPS.Protocol.Wire;

/// <summary>One complete incoming message. <see cref="Payload"/> may point into the receive buffer: decode it before the next receive.</summary>
public readonly ref struct InboundMessage
{
    public InboundMessage(MessageKind kind, ulong senderId, ulong messageId, ReadOnlySpan<byte> payload)
    {
        Kind = kind;
        SenderId = senderId;
        MessageId = messageId;
        Payload = payload;
    }

    public MessageKind Kind { get; }
    public ulong SenderId { get; }
    public ulong MessageId { get; }
    public ReadOnlySpan<byte> Payload { get; }
}

/// <summary>
/// Incoming side of the wire: validates and opens datagrams for one cluster and keyring, rejects replays of sealed
/// datagrams, filters kinds, reassembles chunked messages and counts every drop by reason. Raft messages must be
/// sealed with a peer key whenever this endpoint holds one; for client requests and replies the verified
/// <see cref="DatagramHeader.Role"/> is reported and the caller decides (a node answers a plaintext request to a keyed
/// cluster with a short "unauthorized"). Thread-safe.
/// </summary>
public sealed class DatagramReceiver
{
    private volatile Keyring _keys;
    private readonly ReplayGuard _replays = new();
    private readonly int _acceptedKinds;
    private readonly Reassembler _reassembler;
    private readonly long _sweepIntervalMs;
    private long _lastSweep = long.MinValue;

    public DatagramReceiver(WireOptions options, ulong clusterId, WireCounters? counters, params MessageKind[] acceptedKinds)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(acceptedKinds);
        Options = options.Validate();
        ClusterId = clusterId;
        Counters = counters ?? new WireCounters();
        _keys = options.Keys ?? Keyring.Empty;
        foreach (var k in acceptedKinds) _acceptedKinds |= 1 << (int)k;
        _reassembler = new Reassembler(options, Counters);
        _sweepIntervalMs = Math.Max(1, (long)(options.ReassemblyTimeout.TotalMilliseconds / 4));
    }

    public WireOptions Options { get; }
    public ulong ClusterId { get; }
    public WireCounters Counters { get; }
    public Reassembler Reassembler => _reassembler;

    /// <summary>The keys datagrams are opened with; assign a new keyring to rotate.</summary>
    public Keyring Keys
    {
        get => _keys;
        set => _keys = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// Counts the datagram as received, then validates and (sealed) decrypts it in place; drops are counted here.
    /// </summary>
    public bool TryAccept(Span<byte> datagram, out DatagramHeader header, out ReadOnlySpan<byte> payload) =>
        TryAccept(datagram, out header, out payload, out _);

    /// <summary><see cref="TryAccept(Span{byte}, out DatagramHeader, out ReadOnlySpan{byte})"/>, saying why a datagram was dropped.</summary>
    public bool TryAccept(Span<byte> datagram, out DatagramHeader header, out ReadOnlySpan<byte> payload, out DropReason dropped)
    {
        Counters.CountReceived();
        dropped = DropReason.None;
        var keys = _keys;
        if (!Datagram.TryParse(datagram, ClusterId, keys, out header, out var opened, out var reason))
        {
            payload = default;
            dropped = reason;
            Counters.CountDrop(reason);
            return false;
        }
        payload = opened;
        if ((_acceptedKinds & (1 << (int)header.Kind)) == 0)
        {
            dropped = DropReason.UnexpectedKind;
            Counters.CountDrop(dropped);
            return false;
        }
        // Only a peer key makes a Raft message; plaintext ones only where no peer key exists at all (an insecure cluster).
        if (header.Kind is MessageKind.Raft or MessageKind.Removed && header.Role != (keys.Has(CredentialRole.Peer) ? CredentialRole.Peer : CredentialRole.None))
        {
            dropped = DropReason.AuthMismatch;
            Counters.CountDrop(dropped);
            return false;
        }
        // After the tag verified: a forged datagram cannot advance a window.
        if (header.IsSealed && !_replays.TryAccept(header.Role, header.SenderId, header.Epoch, header.Counter))
        {
            dropped = DropReason.Replayed;
            Counters.CountDrop(dropped);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Completes a message from an accepted datagram: immediate for single-datagram messages, otherwise through the
    /// reassembler. <paramref name="now"/> is milliseconds of the caller's monotonic clock.
    /// </summary>
    public bool TryAssemble(scoped in DatagramHeader header, ReadOnlySpan<byte> payload, long now, out InboundMessage message)
    {
        if (!header.IsChunked)
        {
            message = new InboundMessage(header.Kind, header.SenderId, header.MessageId, payload);
            Counters.CountMessageReceived();
            return true;
        }
        message = default;
        long lastSweep = Volatile.Read(ref _lastSweep);
        if (lastSweep == long.MinValue || now - lastSweep >= _sweepIntervalMs)
        {
            Volatile.Write(ref _lastSweep, now);
            _reassembler.EvictStale(now);
        }
        var result = _reassembler.Add(header, payload, now, out var complete);
        switch (result)
        {
            case ReassemblyResult.Complete:
                message = new InboundMessage(header.Kind, header.SenderId, header.MessageId, complete);
                Counters.CountMessageReceived();
                return true;
            case ReassemblyResult.Incomplete:
                return false;
            case ReassemblyResult.Duplicate:
                Counters.CountDrop(DropReason.Duplicate);
                return false;
            case ReassemblyResult.Overflow:
                Counters.CountDrop(DropReason.ReassemblyOverflow);
                return false;
            default:
                Counters.CountDrop(DropReason.Malformed);
                return false;
        }
    }

    /// <summary><see cref="TryAccept"/> then <see cref="TryAssemble"/>.</summary>
    public bool TryReceive(Span<byte> datagram, long now, out InboundMessage message) => TryReceive(datagram, now, out message, out _);

    /// <summary><see cref="TryAccept"/> then <see cref="TryAssemble"/>; <paramref name="role"/> is the role that sealed the (last) datagram.</summary>
    public bool TryReceive(Span<byte> datagram, long now, out InboundMessage message, out CredentialRole role)
    {
        role = CredentialRole.None;
        if (!TryAccept(datagram, out var header, out var payload))
        {
            message = default;
            return false;
        }
        role = header.Role;
        return TryAssemble(header, payload, now, out message);
    }

    /// <summary>Evicts stale partial messages now (the receiver also does this by itself as chunks arrive).</summary>
    public int EvictStale(long now) => _reassembler.EvictStale(now);
}
