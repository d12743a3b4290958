using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using RaftPS.Client;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Client;

/// <summary>
/// A scriptable stand-in for a node's client port: a UDP socket on 127.0.0.1:0 speaking the real wire format.
/// Every decoded request is recorded; <see cref="Handler"/> decides the reply (null = drop it, as a lost datagram).
/// </summary>
internal sealed class FakeNode : IAsyncDisposable
{
    public delegate ClientReply? RequestHandler(FakeNode node, ClientRequest request);

    private readonly Socket _socket;
    private readonly DatagramReceiver _receiver;
    private readonly DatagramFramer _framer;
    private readonly Thread _thread;
    private volatile bool _stopped;
    private readonly ConcurrentQueue<ClientRequest> _requests = new();
    private int _count;

    public FakeNode(string id = "n1", string clusterName = ClusterDefinition.DefaultClusterName, string? key = null)
    {
        Id = id;
        ulong cluster = ClusterId.FromName(clusterName);
        var options = new WireOptions { Keys = key is null ? null : new Keyring(cluster, new ClusterCredentials { Client = [key] }) };
        _receiver = new DatagramReceiver(options, cluster, null, MessageKind.ClientRequest);
        _framer = new DatagramFramer(options, cluster, ClusterDefinition.NodeIdOf(id));
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.ReceiveTimeout = 100;
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _thread = new Thread(Loop) { IsBackground = true, Name = "FakeNode " + id };
        _thread.Start();
    }

    public string Id { get; }
    public IPEndPoint EndPoint { get; }
    /// <summary>"127.0.0.1:port", the form NotLeader hints use.</summary>
    public string Address => $"127.0.0.1:{EndPoint.Port}";

    /// <summary>Decides each reply. Default: drop everything (a node that is up but silent).</summary>
    public volatile RequestHandler? Handler;

    /// <summary>When set and positive for a request, its reply is sent that much later.</summary>
    public volatile Func<ClientRequest, TimeSpan>? ReplyDelay;

    public int RequestCount => Volatile.Read(ref _count);
    public IReadOnlyList<ClientRequest> Requests => _requests.ToArray();
    public IReadOnlyList<ClientRequest> Writes => Requests.Where(r => r.Op is ClientOp.Put or ClientOp.Delete or ClientOp.CompareAndSet).ToArray();

    // A dedicated thread with blocking receives, so the fake answers promptly even when the test process's thread
    // pool is saturated.
    private void Loop()
    {
        var buffer = new byte[65536];
        var from = new SocketAddress(AddressFamily.InterNetwork);
        while (!_stopped)
        {
            int n;
            try
            {
                n = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // receive timeout (checks _stopped) or a stray ICMP error
            }
            if (!_receiver.TryReceive(buffer.AsSpan(0, n), Environment.TickCount64, out var message)) continue;
            if (!ClientCodec.TryReadRequest(message.Payload, out var request)) continue;
            _requests.Enqueue(request);
            Interlocked.Increment(ref _count);
            var reply = Handler?.Invoke(this, request);
            if (reply is null) continue;
            reply = reply with { RequestId = request.RequestId };
            var delay = ReplyDelay?.Invoke(request) ?? TimeSpan.Zero;
            if (delay > TimeSpan.Zero)
            {
                // The receive buffer's address is reused: copy it for the delayed send.
                var to = new SocketAddress(from.Family, from.Size);
                from.Buffer.CopyTo(to.Buffer);
                _ = Task.Delay(delay).ContinueWith(_ => Send(reply, to), TaskScheduler.Default);
            }
            else
            {
                Send(reply, from);
            }
        }
    }

    private void Send(ClientReply reply, SocketAddress to)
    {
        var w = WireWriter.Rent();
        try
        {
            ClientCodec.Write(w, reply);
            _framer.Frame(MessageKind.ClientReply, w, (Socket: _socket, To: to), static (s, d) => s.Socket.SendTo(d, SocketFlags.None, s.To));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Test shutting down.
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopped = true;
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    // ------------------------------------------------------------------ reply helpers

    public static ClientReply Ok(ulong version = 0, params KvItem[] items) => new() { Status = ReplyStatus.Ok, Version = version, Items = items };
    public static ClientReply Status(ReplyStatus status, ulong version = 0, string? error = null) => new() { Status = status, Version = version, Error = error };
    public static ClientReply NotLeader(string? leaderEndpoint = null) => new() { Status = ReplyStatus.NotLeader, LeaderEndpoint = leaderEndpoint, LeaderId = leaderEndpoint is null ? null : "leader" };

    /// <summary>
    /// Client options for these nodes. The attempt timeout is long so that a test run slowed by JIT or parallel tests
    /// never retries by accident; tests that need timeouts set <see cref="Short"/> explicitly.
    /// </summary>
    public static RaftClientOptions Options(params FakeNode[] nodes) => new()
    {
        Endpoints = nodes.Select(n => n.EndPoint).ToArray(),
        AttemptTimeout = TimeSpan.FromSeconds(1),
        Deadline = TimeSpan.FromSeconds(10),
        MinBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(20),
    };

    /// <summary>Attempt timeout for tests that drop datagrams on purpose.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromMilliseconds(100);
}

/// <summary>
/// A tiny key-value store with client sessions, answering like a leader would: a write retried with the same
/// (ClientId, Sequence) gets the recorded answer and is not applied again. Thread-safe (one lock).
/// </summary>
internal sealed class FakeKv
{
    private readonly object _lock = new();
    private readonly Dictionary<string, KvItem> _items = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, (ulong Sequence, ClientReply Reply)> _sessions = new();
    private ulong _index;

    public int Applied { get; private set; }
    public int Duplicates { get; private set; }

    public int SessionCount
    {
        get { lock (_lock) return _sessions.Count; }
    }

    public KvItem? Get(string key)
    {
        lock (_lock) return _items.GetValueOrDefault(key);
    }

    public ClientReply Handle(ClientRequest r)
    {
        lock (_lock)
        {
            switch (r.Op)
            {
                case ClientOp.Get:
                    return _items.TryGetValue(r.Key, out var item) ? FakeNode.Ok(item.Version, item) : FakeNode.Status(ReplyStatus.KeyNotFound);
                case ClientOp.List:
                    return FakeNode.Ok(0, _items.Values.Where(i => i.Key.StartsWith(r.Key, StringComparison.Ordinal)).OrderBy(i => i.Key, StringComparer.Ordinal).ToArray());
                case ClientOp.Status:
                    return new ClientReply { Status = ReplyStatus.Ok, NodeStatus = new NodeStatus { Id = "kv", Role = "Leader", CommitIndex = _index } };
            }
            if (_sessions.TryGetValue(r.ClientId, out var s))
            {
                if (s.Sequence == r.Sequence)
                {
                    Duplicates++;
                    return s.Reply;
                }
                if (r.Sequence < s.Sequence) return FakeNode.Status(ReplyStatus.BadRequest, error: "stale sequence");
            }
            else if (r.Sequence > 1)
            {
                return FakeNode.Status(ReplyStatus.SessionExpired);
            }
            ClientReply reply;
            ulong index = ++_index;
            Applied++;
            switch (r.Op)
            {
                case ClientOp.Put:
                    var written = new KvItem(r.Key, r.Value!, index);
                    _items[r.Key] = written;
                    reply = FakeNode.Ok(index, written);
                    break;
                case ClientOp.Delete:
                    reply = _items.Remove(r.Key) ? FakeNode.Ok(index) : FakeNode.Status(ReplyStatus.KeyNotFound);
                    break;
                default:
                    var current = _items.GetValueOrDefault(r.Key);
                    ulong version = current?.Version ?? 0;
                    bool ok = (r.ExpectedVersion is not { } ev || ev == version)
                              && (r.ExpectedValue is null || (current is not null && current.Value.AsSpan().SequenceEqual(r.ExpectedValue)));
                    if (ok)
                    {
                        var cas = new KvItem(r.Key, r.Value!, index);
                        _items[r.Key] = cas;
                        reply = FakeNode.Ok(index, cas);
                    }
                    else
                    {
                        reply = FakeNode.Status(ReplyStatus.VersionMismatch, version);
                    }
                    break;
            }
            _sessions[r.ClientId] = (r.Sequence, reply);
            return reply;
        }
    }
}
