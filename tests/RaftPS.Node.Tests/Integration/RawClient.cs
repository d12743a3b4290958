using System.Net;
using System.Net.Sockets;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Integration;

/// <summary>A minimal synchronous wire client for node tests that must not depend on the client library's retry logic.</summary>
public sealed class RawClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly ClientWire _wire;
    private ulong _nextRequest;

    public RawClient(ClusterDefinition cluster, ulong clientId = 0)
    {
        _wire = new ClientWire(new WireOptions(), cluster.ClusterId, clientId == 0 ? (ulong)Random.Shared.NextInt64(1, long.MaxValue) : clientId);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.ReceiveTimeout = 200;
    }

    public ulong ClientId => _wire.ClientId;

    /// <summary>Sends one request and waits (bounded) for its reply; null on timeout.</summary>
    public ClientReply? Send(IPEndPoint to, ClientRequest request, TimeSpan timeout)
    {
        request = request with { RequestId = ++_nextRequest };
        foreach (var d in _wire.FrameRequest(request)) _socket.SendTo(d, to);
        var deadline = DateTime.UtcNow + timeout;
        var buf = new byte[65536];
        while (DateTime.UtcNow < deadline)
        {
            int n;
            try { n = _socket.Receive(buf); }
            catch (SocketException) { continue; }
            if (_wire.TryParseReply(buf.AsSpan(0, n), Environment.TickCount64, out var reply) && reply.RequestId == request.RequestId)
                return reply;
        }
        return null;
    }

    public void Dispose() => _socket.Dispose();
}
