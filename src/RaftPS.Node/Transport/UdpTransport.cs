using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>
/// A node's single UDP socket, shared by peers and clients. A dedicated background thread receives with blocking calls,
/// validates, opens (AEAD), reassembles and decodes datagrams and raises <see cref="RaftMessageReceived"/> /
/// <see cref="ClientRequestReceived"/> on that thread (handlers should only hand the value on, e.g. to a queue). Sends are synchronous non-blocking UDP
/// sendto calls from the caller's thread; socket errors are counted, never thrown. Fault injection
/// (<see cref="Faults"/>) sits between the socket and everything else. Thread-safe.
/// <para>
/// The trust boundary lives here, in one place: a Raft message reaches the node only if it was sealed with a peer key
/// (when the node holds one), came from the address the <see cref="Peers"/> book lists for its sender (the book follows
/// the replicated configuration) and names that sender and this node in its body; the server then checks every field
/// (<see cref="PeerMessageValidator"/>) before the core sees it. A client request reaches the node only if its credential may do what it asks
/// (<see cref="ClientAuthorization"/>); otherwise it gets a short unauthorized / forbidden answer or a counted drop.
/// </para>
/// </summary>
public sealed partial class UdpTransport : IAsyncDisposable, IDisposable
{
    // Windows reports ICMP port unreachable as WSAECONNRESET on the next receive unless this ioctl turns it off.
    private const int SioUdpConnReset = unchecked((int)0x9800000C);
    private const int AddressCacheLimit = 4096;
    // Bounds how long the receive thread can stay blocked where closing the socket does not interrupt a receive.
    private const int ReceiveTimeoutMs = 250;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly DatagramFramer _framer;
    private readonly DatagramReceiver _receiver;
    private volatile Keyring _keys;
    private readonly CancellationTokenSource _cts = new();
    private readonly Random _faultRandom;
    private readonly object _faultRandomLock = new();
    // Receive side: source address -> endpoint handed to client handlers (only the receive loop touches it).
    private readonly Dictionary<SocketAddress, IPEndPoint> _endPoints = new();
    // Send side: endpoint -> serialized address, so steady traffic does not re-serialize per datagram.
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _addresses = new();
    private volatile FaultSettings _faults = FaultSettings.None;
    private Thread? _receiveThread;
    private readonly TaskCompletionSource _receiveStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _started;
    private volatile bool _disposed;

    public UdpTransport(IPEndPoint localEndPoint, ulong clusterId, ulong nodeId, PeerAddressBook peers, TransportOptions? options, ILogger? logger)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        ArgumentNullException.ThrowIfNull(peers);
        options ??= new TransportOptions();
        options.Wire.Validate();
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        ClusterId = clusterId;
        NodeId = nodeId;
        Peers = peers;
        Options = options;
        Counters = new WireCounters();
        _framer = new DatagramFramer(options.Wire, clusterId, nodeId);
        _receiver = new DatagramReceiver(options.Wire, clusterId, Counters, MessageKind.Raft, MessageKind.ClientRequest, MessageKind.Removed,
            MessageKind.SnapshotChunk, MessageKind.SnapshotAck);
        _keys = options.Wire.Keys ?? Keyring.Empty;
        _faultRandom = new Random(options.FaultSeed ?? unchecked((int)nodeId * 7919 + 17));

        _socket = new Socket(localEndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6) _socket.DualMode = true;
            if (OperatingSystem.IsWindows()) _socket.IOControl(SioUdpConnReset, [0, 0, 0, 0], null);
            TrySetBufferSizes(options.SocketBufferSize);
            _socket.ReceiveTimeout = ReceiveTimeoutMs;
            _socket.Bind(localEndPoint);
            LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    /// <summary>The bound endpoint (with the real port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }
    public ulong ClusterId { get; }
    public ulong NodeId { get; }
    public PeerAddressBook Peers { get; }
    public TransportOptions Options { get; }
    public WireCounters Counters { get; }

    /// <summary>A Raft message from a peer, addressed to this node. Raised on the receive thread (or a timer thread when delayed).</summary>
    public event Action<Message>? RaftMessageReceived;

    /// <summary>
    /// A client request the sender's credential allows, and the address to send the reply to (a <see cref="ClientEndPoint"/>
    /// that remembers the request's key). Raised on the receive thread.
    /// </summary>
    public event Action<ClientRequest, EndPoint>? ClientRequestReceived;

    /// <summary>
    /// Asked on the receive thread before an authorized client request is raised; false answers it "busy" at once (the
    /// node's ingress queue is full) and counts a <see cref="DropReason.Busy"/> drop. Null admits everything.
    /// </summary>
    public Func<bool>? AdmitClientRequest { get; set; }

    /// <summary>The keys this transport seals and opens with. Assign a new keyring to rotate secrets without a restart.</summary>
    public Keyring Keys
    {
        get => _keys;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.ClusterId != ClusterId && !value.IsEmpty) throw new ArgumentException("keyring of another cluster", nameof(value));
            // Receiver first: during the swap a peer may already send with the new current key.
            _receiver.Keys = value;
            _framer.Keys = value;
            _keys = value;
            _logger.LogInformation("Node {NodeId} keys replaced", NodeId);
        }
    }

    /// <summary>Current fault injection; assign a new value to change it at run time.</summary>
    public FaultSettings Faults
    {
        get => _faults;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!(value.DropRate >= 0 && value.DropRate <= 1)) throw new ArgumentOutOfRangeException(nameof(value), "DropRate must be in [0, 1]");
            if (value.Delay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), "Delay must not be negative");
            // Own copy: the caller may keep mutating the set it passed.
            _faults = value with { PartitionedFrom = (value.PartitionedFrom ?? FrozenSet<ulong>.Empty).ToFrozenSet() };
            _logger.LogInformation("Node {NodeId} fault injection: {Faults}", NodeId, _faults);
        }
    }

    /// <summary>Starts the receive thread. Subscribe to the events first.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("transport already started");
        // A blocking receive on its own thread hands each datagram on without a thread-pool hop per receive.
        _receiveThread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"raftps-udp-{NodeId}" };
        _receiveThread.Start();
    }

    /// <summary>Sends a Raft message to the peer <c>m.To</c>. False when it was not handed to the socket (unknown peer, fault, encoding error).</summary>
    public bool Send(Message m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (_disposed) return false;
        var faults = _faults;
        if (faults.Suspended || faults.PartitionedFrom.Contains(m.To))
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return false;
        }
        if (!Peers.TryGet(m.To, out var peer))
        {
            Counters.CountDrop(DropReason.UnknownPeer);
            return false;
        }
        var address = AddressOf(peer);
        var w = WireWriter.Rent();
        try
        {
            RaftCodec.Write(w, m);
            _framer.Frame(MessageKind.Raft, w, (this, address, faults), static (s, d) => s.Item1.SendPeerDatagram(d, s.address, s.faults));
            return true;
        }
        catch (WireFormatException e)
        {
            _logger.LogError(e, "Node {NodeId} cannot encode {Message}", NodeId, m);
            Counters.CountDrop(DropReason.Malformed);
            return false;
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    /// <summary>Tells peer <paramref name="to"/> it was removed by the configuration committed at <paramref name="configIndex"/>.</summary>
    public bool SendRemovedNotice(ulong to, ulong configIndex)
    {
        if (_disposed) return false;
        var faults = _faults;
        if (faults.Suspended || faults.PartitionedFrom.Contains(to) || !Peers.TryGet(to, out var peer)) return false;
        var address = AddressOf(peer);
        var w = WireWriter.Rent();
        try
        {
            w.WriteVarUInt64(configIndex);
            _framer.Frame(MessageKind.Removed, w, (this, address, faults), static (s, d) => s.Item1.SendPeerDatagram(d, s.address, s.faults));
            return true;
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    /// <summary>A member said this node was removed (sender id, configuration index). Raised on the receive thread.</summary>
    public event Action<ulong, ulong>? RemovedNoticeReceived;

    /// <summary>Sends a reply to a client address received with its request. Only <see cref="FaultSettings.Suspended"/> affects client traffic.</summary>
    public bool SendReply(ClientReply reply, EndPoint to)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(to);
        if (_disposed) return false;
        if (_faults.Suspended)
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return false;
        }
        if (to is not IPEndPoint ip) throw new ArgumentException("reply address must be an IPEndPoint", nameof(to));
        var address = AddressOf(ip);
        // Sealed with the key that opened the request; a plaintext request gets a plaintext answer.
        var key = (to as ClientEndPoint)?.Key;
        var w = WireWriter.Rent();
        try
        {
            ClientCodec.Write(w, reply);
            _framer.Frame(MessageKind.ClientReply, w, key, (this, address), static (s, d) => s.Item1.SendRaw(d, s.address));
            return true;
        }
        catch (WireFormatException e)
        {
            _logger.LogError(e, "Node {NodeId} cannot encode reply {RequestId}", NodeId, reply.RequestId);
            Counters.CountDrop(DropReason.Malformed);
            return false;
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    private void SendPeerDatagram(ReadOnlySpan<byte> datagram, SocketAddress address, FaultSettings faults)
    {
        if (faults.DropRate > 0 && NextFaultDouble() < faults.DropRate)
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        if (faults.Delay > TimeSpan.Zero)
        {
            _ = SendLaterAsync(datagram.ToArray(), address, faults.Delay);
            return;
        }
        SendRaw(datagram, address);
    }

    private async Task SendLaterAsync(byte[] datagram, SocketAddress address, TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        // A node suspended meanwhile does not emit what it had "in flight" in its own stack.
        if (_faults.Suspended)
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        SendRaw(datagram, address);
    }

    private void SendRaw(ReadOnlySpan<byte> datagram, SocketAddress address)
    {
        if (_disposed) return;
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, address);
            Counters.CountSent();
        }
        catch (SocketException e)
        {
            // UDP semantics: a failed send is a lost datagram. Log at debug to avoid a storm while a peer is down.
            Counters.CountSendError();
            if (_logger.IsEnabled(LogLevel.Debug)) _logger.LogDebug("Node {NodeId} send failed: {Error}", NodeId, e.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private SocketAddress AddressOf(IPEndPoint endPoint)
    {
        if (_addresses.TryGetValue(endPoint, out var cached)) return cached;
        if (_addresses.Count >= AddressCacheLimit) _addresses.Clear();
        var target = endPoint;
        // A dual-mode IPv6 socket reaches IPv4 peers through mapped addresses.
        if (_socket.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.AddressFamily == AddressFamily.InterNetwork)
            target = new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port);
        var address = target.Serialize();
        _addresses[endPoint] = address;
        return address;
    }

    private double NextFaultDouble()
    {
        lock (_faultRandomLock) return _faultRandom.NextDouble();
    }

    private void ReceiveLoop()
    {
        try
        {
            var buffer = GC.AllocateUninitializedArray<byte>(ushort.MaxValue + 1);
            var source = new SocketAddress(_socket.AddressFamily);
            int consecutiveErrors = 0;
            while (!_disposed)
            {
                int length;
                try
                {
                    length = _socket.ReceiveFrom(buffer, SocketFlags.None, source);
                    // Closing the socket can end the receive with an empty read: not a datagram.
                    if (_disposed) break;
                    consecutiveErrors = 0;
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                catch (SocketException e) when (!_disposed)
                {
                    // The receive timeout is only our disposal check.
                    if (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock) continue;
                    // ConnectionReset (ICMP port unreachable from a dead peer on some OSes) and similar are per-datagram
                    // noise: count and carry on. Back off a little if errors repeat so a broken socket cannot spin.
                    Counters.CountReceiveError();
                    if (e.SocketErrorCode is not (SocketError.ConnectionReset or SocketError.MessageSize or SocketError.ConnectionRefused))
                        _logger.LogWarning("Node {NodeId} receive error: {Error}", NodeId, e.SocketErrorCode);
                    if (++consecutiveErrors > 10) Thread.Sleep(10);
                    continue;
                }
                catch (SocketException)
                {
                    break;
                }

                try
                {
                    HandleDatagram(buffer.AsSpan(0, length), source);
                }
                catch (Exception e)
                {
                    // A handler bug must not stop the node from hearing its peers.
                    _logger.LogError(e, "Node {NodeId} failed handling a datagram", NodeId);
                }
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Node {NodeId} receive thread failed", NodeId);
        }
        finally
        {
            _receiveStopped.TrySetResult();
        }
    }

    private void HandleDatagram(Span<byte> datagram, SocketAddress source)
    {
        int datagramLength = datagram.Length;
        bool sealedRequest = IsSealedRequestOfThisCluster(datagram);
        if (!_receiver.TryAccept(datagram, out var header, out var payload, out var dropped))
        {
            // A request we cannot open (a wrong or retired key) has no readable request id: answer "unauthorized" for
            // request 0, in plaintext, no larger than what arrived; the client fails its waiting requests with it.
            // Only for a key failure: a replay must not let anyone fail an honest client's requests.
            if (sealedRequest && dropped == DropReason.BadAuth && !_faults.Suspended)
                SendBoundedReply(new ClientReply { Status = ReplyStatus.Unauthorized }, EndPointOf(source), datagramLength);
            return;
        }
        var faults = _faults;
        if (faults.Suspended)
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        bool isPeer = header.Kind is MessageKind.Raft or MessageKind.Removed || IsStreamKind(header.Kind);
        // A peer speaks only from its configured address: a key holder elsewhere (or a spoofer of an insecure cluster's
        // sender id) is not that member. Checked per datagram, against the book that follows the configuration. A sender
        // not in the book yet (a member added by an entry this node has not seen) is learned where it speaks from — but
        // only when the peer key proved it a member, or the cluster has no peer key at all.
        if (isPeer && !IsPeerAddress(header.SenderId, source)
            && (Peers.TryGet(header.SenderId, out _) || (header.Role != CredentialRole.Peer && _keys.Has(CredentialRole.Peer))))
        {
            Counters.CountDrop(DropReason.WrongSource);
            return;
        }
        if (isPeer && (faults.PartitionedFrom.Contains(header.SenderId) || (faults.DropRate > 0 && NextFaultDouble() < faults.DropRate)))
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        if (!isPeer && header.Role == CredentialRole.None && _keys.Has(CredentialRole.Client))
        {
            // Plaintext to a node that requires a client credential: never buffered for reassembly. A single-datagram
            // request is told "unauthorized" (bounded); chunks are only counted.
            Counters.CountDrop(DropReason.Unauthenticated);
            if (!header.IsChunked && ClientCodec.TryReadRequest(payload, out var refused))
                SendBoundedReply(new ClientReply { RequestId = refused.RequestId, Status = ReplyStatus.Unauthorized }, EndPointOf(source), datagramLength);
            return;
        }
        if (!_receiver.TryAssemble(header, payload, Environment.TickCount64, out var message)) return;
        if (IsStreamKind(header.Kind))
        {
            DeliverStream(header.Kind, header.SenderId, message.Payload, faults, source);
            return;
        }

        if (header.Kind == MessageKind.Removed)
        {
            ulong configIndex;
            try
            {
                var reader = new WireReader(message.Payload);
                configIndex = reader.ReadVarUInt64();
                reader.EnsureEnd();
            }
            catch (WireFormatException)
            {
                Counters.CountDrop(DropReason.Malformed);
                return;
            }
            RemovedNoticeReceived?.Invoke(header.SenderId, configIndex);
            return;
        }
        if (isPeer)
        {
            if (!RaftCodec.TryRead(message.Payload, out var m))
            {
                Counters.CountDrop(DropReason.Malformed);
                return;
            }
            // The header's sender is authenticated (when keyed); a body claiming another origin or another
            // destination is misrouted (stale address book, reused port) and must not reach the core.
            if (m.From != header.SenderId || m.To != NodeId)
            {
                Counters.CountDrop(DropReason.Misaddressed);
                return;
            }
            // A sender missing from the address book is a member added by a configuration entry this node has not seen
            // yet, or the leader of a cluster this joiner waits to enter: answer it where it speaks from.
            if (!Peers.TryGet(m.From, out _)) Peers.Set(m.From, EndPointOf(source));
            if (faults.Delay > TimeSpan.Zero)
            {
                _ = DeliverLaterAsync(m, faults.Delay);
                return;
            }
            RaftMessageReceived?.Invoke(m);
            return;
        }

        if (!ClientCodec.TryReadRequest(message.Payload, out var request))
        {
            Counters.CountDrop(DropReason.Malformed);
            return;
        }
        var key = header.Role == CredentialRole.None ? null : _keys.Find(header.KeyId);
        var plain = EndPointOf(source);
        var from = key is null ? plain : new ClientEndPoint(plain.Address, plain.Port, key);
        var (status, error) = ClientAuthorization.Check(request.Op, header.Role, _keys);
        if (status == ReplyStatus.Unauthorized)
        {
            // We cannot seal an answer for a sender without a key: a plaintext one, and only if it is no larger than what
            // arrived, so a spoofed source cannot turn this node into an amplifier.
            Counters.CountDrop(DropReason.Unauthenticated);
            // No error text: the status says it all, and the answer must stay smaller than the smallest request.
            SendBoundedReply(new ClientReply { RequestId = request.RequestId, Status = status }, from, datagramLength);
            return;
        }
        if (status != ReplyStatus.Ok)
        {
            SendReply(new ClientReply { RequestId = request.RequestId, Status = status, Error = error }, from);
            return;
        }
        if (AdmitClientRequest is { } admit && !admit())
        {
            Counters.CountDrop(DropReason.Busy);
            SendBoundedReply(new ClientReply { RequestId = request.RequestId, Status = ReplyStatus.Busy }, from, datagramLength);
            return;
        }
        ClientRequestReceived?.Invoke(request, from);
    }

    private bool IsSealedRequestOfThisCluster(ReadOnlySpan<byte> d) =>
        d.Length > Datagram.HeaderSize && d[5] == (byte)MessageKind.ClientRequest && d[6] == (byte)DatagramFlags.Sealed
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(d) == Datagram.Magic && d[4] == Datagram.Version
        && System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(d[7..]) == ClusterId;

    private bool IsPeerAddress(ulong sender, SocketAddress source) =>
        Peers.TryGet(sender, out var configured) && AddressOf(configured).Equals(source);

    // Answers without amplification: the reply (sealed or not) is sent only if it is no larger than the request was.
    private void SendBoundedReply(ClientReply reply, EndPoint to, int requestLength)
    {
        var w = WireWriter.Rent();
        try
        {
            ClientCodec.Write(w, reply);
            int replyLength = Datagram.HeaderSize + w.Length + ((to as ClientEndPoint)?.Key is null ? 0 : Datagram.TagSize);
            if (replyLength > requestLength) return;
        }
        finally
        {
            WireWriter.Return(w);
        }
        SendReply(reply, to);
    }

    private async Task DeliverLaterAsync(Message m, TimeSpan delay)
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
        if (faults.Suspended || faults.PartitionedFrom.Contains(m.From))
        {
            Counters.CountDrop(DropReason.FaultInjected);
            return;
        }
        try
        {
            RaftMessageReceived?.Invoke(m);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Node {NodeId} failed handling a delayed message", NodeId);
        }
    }

    private IPEndPoint EndPointOf(SocketAddress source)
    {
        if (_endPoints.TryGetValue(source, out var ep)) return ep;
        if (_endPoints.Count >= AddressCacheLimit) _endPoints.Clear();
        // The receive buffer's SocketAddress is reused: key the cache by a copy.
        var key = new SocketAddress(source.Family, source.Size);
        source.Buffer.Span[..source.Size].CopyTo(key.Buffer.Span);
        ep = (IPEndPoint)LocalEndPoint.Create(key);
        _endPoints[key] = ep;
        _addresses.TryAdd(ep, key);
        return ep;
    }

    private void TrySetBufferSizes(int size)
    {
        try
        {
            _socket.ReceiveBufferSize = size;
            _socket.SendBufferSize = size;
        }
        catch (SocketException e)
        {
            _logger.LogDebug("Node {NodeId} could not set socket buffers to {Size}: {Error}", NodeId, size, e.SocketErrorCode);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _cts.Cancel();
        // Closing the socket interrupts the blocking receive (or the receive timeout ends it).
        _socket.Dispose();
        if (_receiveThread is not null) await _receiveStopped.Task.ConfigureAwait(false);
        // _cts is deliberately not disposed: delayed sends/deliveries may still observe its (cancelled) token.
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
