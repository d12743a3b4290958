using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Client;

// The datagram layer of the client: one socket, a receive thread that hands replies to waiting attempts by request
// id, and a sweeper that times attempts out (one timer for all of them instead of one per request).
public sealed partial class RaftClient
{
    private const int SioUdpConnReset = unchecked((int)0x9800000C);

    private enum AttemptOutcome : byte
    {
        Reply,
        NoAnswer,
        SendFailed,
    }

    /// <summary>One datagram exchange waiting for its reply; completed with null when it times out.</summary>
    private sealed class PendingReply(long deadline) : TaskCompletionSource<ClientReply?>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public readonly long Deadline = deadline;
    }

    private readonly Socket _socket;
    private readonly bool _dualMode;
    private readonly ClientWire _wire;
    private readonly ConcurrentDictionary<ulong, PendingReply> _pending = new();
    private readonly ConcurrentDictionary<IPEndPoint, SocketAddress> _addresses = new();
    private readonly Timer _sweeper;
    private readonly Thread _receiveThread;
    private readonly TaskCompletionSource _receiveStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextRequestId;
    private int _disposed;

    private static long Now => Environment.TickCount64;

    private static Socket CreateSocket(IReadOnlyList<IPEndPoint> endpoints, int bufferSize, out bool dualMode)
    {
        bool anyV4 = endpoints.Any(e => e.AddressFamily == AddressFamily.InterNetwork);
        bool anyV6 = endpoints.Any(e => e.AddressFamily == AddressFamily.InterNetworkV6);
        bool allLoopback = endpoints.All(e => IPAddress.IsLoopback(e.Address));
        dualMode = anyV4 && anyV6;
        var family = anyV6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Windows reports an ICMP "port unreachable" as a failed receive; a dead node must not break the loop.
            if (OperatingSystem.IsWindows()) socket.IOControl(SioUdpConnReset, [0, 0, 0, 0], null);
            if (dualMode) socket.DualMode = true;
            // The receive thread wakes up this often to notice disposal even where closing does not interrupt it.
            socket.ReceiveTimeout = 250;
            if (bufferSize > 0)
            {
                try
                {
                    socket.ReceiveBufferSize = bufferSize;
                    socket.SendBufferSize = bufferSize;
                }
                catch (SocketException)
                {
                    // The OS caps buffer sizes; the default still works, only bursts drop earlier.
                }
            }
            // A loopback-only client stays invisible to the network.
            IPAddress bind = family == AddressFamily.InterNetwork
                ? allLoopback ? IPAddress.Loopback : IPAddress.Any
                : allLoopback && !dualMode ? IPAddress.IPv6Loopback : IPAddress.IPv6Any;
            socket.Bind(new IPEndPoint(bind, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private ulong NextRequestId() => (ulong)Interlocked.Increment(ref _nextRequestId);

    private SocketAddress AddressOf(IPEndPoint target) =>
        _addresses.GetOrAdd(target, static (ep, dual) =>
            (dual && ep.AddressFamily == AddressFamily.InterNetwork ? new IPEndPoint(ep.Address.MapToIPv6(), ep.Port) : ep).Serialize(), _dualMode);

    /// <summary>Sends <paramref name="request"/> and waits for its reply, at most <paramref name="timeoutMs"/>.</summary>
    private async Task<(AttemptOutcome Outcome, ClientReply? Reply)> AttemptAsync(ClientRequest request, IPEndPoint target, long timeoutMs, CancellationToken ct)
    {
        var pending = new PendingReply(Now + timeoutMs);
        _pending[request.RequestId] = pending;
        try
        {
            // Checked after registering: DisposeAsync sets the flag before draining, so every attempt is either drained or sees it.
            ThrowIfDisposed();
            if (!TrySend(request, target)) return (AttemptOutcome.SendFailed, null);
            ClientReply? reply;
            if (ct.CanBeCanceled)
            {
                using var registration = ct.UnsafeRegister(static (s, token) => ((PendingReply)s!).TrySetCanceled(token), pending);
                reply = await pending.Task.ConfigureAwait(false);
            }
            else
            {
                reply = await pending.Task.ConfigureAwait(false);
            }
            return (reply is null ? AttemptOutcome.NoAnswer : AttemptOutcome.Reply, reply);
        }
        finally
        {
            _pending.TryRemove(request.RequestId, out _);
        }
    }

    private bool TrySend(ClientRequest request, IPEndPoint target)
    {
        var address = AddressOf(target);
        try
        {
            // Framed in place in a pooled per-thread writer and sent synchronously: no copy, no allocation.
            _wire.FrameRequest(request, (Socket: _socket, Address: address), static (s, datagram) => s.Socket.SendTo(datagram, SocketFlags.None, s.Address));
            return true;
        }
        catch (WireFormatException e)
        {
            throw new RaftValueTooLargeException(request.Key, e.Message);
        }
        catch (SocketException)
        {
            // Unreachable network, wrong address family, full buffer: as lost as a dropped datagram.
            _wire.Counters.CountSendError();
            return false;
        }
    }

    /// <summary>
    /// Runs on a dedicated thread with blocking receives: replies are matched the moment they arrive even when the
    /// thread pool is saturated (by our own callers, say), so a busy process does not time out answered attempts.
    /// </summary>
    private void ReceiveLoop()
    {
        try
        {
            var buffer = GC.AllocateUninitializedArray<byte>(WireOptions.MaxUdpPayload + 1);
            var from = new SocketAddress(_socket.AddressFamily);
            while (Volatile.Read(ref _disposed) == 0)
            {
                int length;
                try
                {
                    length = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                catch (SocketException e)
                {
                    if (Volatile.Read(ref _disposed) != 0) break;
                    // Timeouts are our disposal check; ICMP errors surface here on some platforms and only cost the
                    // affected attempt its answer.
                    if (e.SocketErrorCode != SocketError.TimedOut && e.SocketErrorCode != SocketError.WouldBlock) _wire.Counters.CountReceiveError();
                    continue;
                }
                // Replies for attempts that already timed out, or duplicates, find no pending entry and are dropped.
                if (!_wire.TryParseReply(buffer.AsSpan(0, length), Now, out var reply)) continue;
                if (reply.RequestId == 0 && reply.Status == ReplyStatus.Unauthorized && IsOurEndpoint(from))
                {
                    // A node that could not open our request (wrong or retired key) cannot name it: every waiting attempt
                    // would meet the same answer, so they all end with it.
                    foreach (var entry in _pending)
                        if (_pending.TryRemove(entry)) entry.Value.TrySetResult(reply with { RequestId = entry.Key });
                    continue;
                }
                if (_pending.TryRemove(reply.RequestId, out var pending)) pending.TrySetResult(reply);
            }
        }
        finally
        {
            _receiveStopped.TrySetResult();
        }
    }

    private bool IsOurEndpoint(SocketAddress from)
    {
        foreach (var ep in _endpoints)
            if (AddressOf(ep).Equals(from)) return true;
        return false;
    }

    private void Sweep()
    {
        long now = Now;
        foreach (var entry in _pending)
        {
            if (entry.Value.Deadline <= now && _pending.TryRemove(entry))
                entry.Value.TrySetResult(null);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Closes the socket; operations still running fail with <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        foreach (var entry in _pending)
        {
            if (_pending.TryRemove(entry))
                entry.Value.TrySetException(new ObjectDisposedException(nameof(RaftClient)));
        }
        // The thread stops at its next wake-up (closing the socket, or the receive timeout, ends the blocking call).
        try
        {
            await _receiveStopped.Task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A background thread that exits on its next wake-up; not worth blocking the caller for.
        }
    }
}
