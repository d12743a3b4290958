using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using RaftPS.Consensus;
using RaftPS.Node.Transport;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// Follower side of snapshot streaming (see <see cref="SnapshotSender"/>). Chunks go to a temp file in
/// <see cref="Directory"/>; once every chunk is there a background task reads the whole back, checks its CRC-32C and the
/// envelope (an InstallSnapshot message from the stream's authenticated sender to this node), and hands the rebuilt
/// message to the event loop as if it had arrived whole. One stream at a time: a newer leader's (higher term) or a newer
/// snapshot replaces a running one, anything else is refused; a stream idle for
/// <see cref="SnapshotStreamOptions.ReceiverIdleTimeout"/> is deleted. Thread-safe.
/// </summary>
public sealed class SnapshotReceiver : IDisposable
{
    private const string PartSuffix = ".part";

    private readonly ulong _self;
    private readonly ISnapshotLink _link;
    private readonly Action<Message> _deliver;
    private readonly SnapshotStreamOptions _options;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private readonly Timer _sweep;
    private IncomingTransfer? _current;
    // The last stream handed to the loop: a sender that missed our verdict pokes again and hears it again.
    private (ulong From, ulong TransferId)? _lastDelivered;
    private bool _disposed;

    public SnapshotReceiver(ulong self, string directory, ISnapshotLink link, Action<Message> deliver, SnapshotStreamOptions? options, ILogger? log)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(deliver);
        _self = self;
        _link = link;
        _deliver = deliver;
        _options = (options ?? new SnapshotStreamOptions()).Validate();
        _log = log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        Directory = System.IO.Directory.CreateDirectory(directory).FullName;
        // Partial streams of an earlier run are useless: a stream is never resumed across restarts of the follower.
        foreach (var stale in System.IO.Directory.EnumerateFiles(Directory, "*" + PartSuffix)) File.Delete(stale);
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_options.ReceiverIdleTimeout.TotalMilliseconds / 4, 10, 5000));
        _sweep = new Timer(_ => SweepIdle(), null, period, period);
    }

    public string Directory { get; }

    /// <summary>Streams in progress (0 or 1).</summary>
    public int ActiveCount
    {
        get { lock (_gate) return _current is null ? 0 : 1; }
    }

    /// <summary>Snapshots verified and handed to the loop.</summary>
    public int DeliveredCount { get; private set; }

    private static long NowMs => Environment.TickCount64;

    /// <summary>A chunk from peer <paramref name="from"/> (authenticated by the transport). Answers with an acknowledgement.</summary>
    public void OnChunk(ulong from, ReadOnlySpan<byte> payload)
    {
        SnapshotChunk chunk;
        ReadOnlySpan<byte> data;
        try
        {
            chunk = SnapshotStreamCodec.ReadChunk(payload, out data);
        }
        catch (WireFormatException e)
        {
            _log.LogDebug("malformed snapshot chunk from {From}: {Error}", from, e.Message);
            return;
        }
        var ack = Accept(from, chunk, data, out var verify);
        if (verify is not null) _ = Task.Run(() => Verify(verify));
        SendAck(from, ack);
    }

    private SnapshotAck Accept(ulong from, in SnapshotChunk chunk, ReadOnlySpan<byte> data, out IncomingTransfer? verify)
    {
        verify = null;
        long now = NowMs;
        lock (_gate)
        {
            if (_disposed) return Answer(chunk, SnapshotAckStatus.Refused, 0);
            var t = _current;
            if (t is null || t.From != from || !t.Description.SameTransfer(chunk))
            {
                if (_lastDelivered == (from, chunk.TransferId)) return Answer(chunk, SnapshotAckStatus.Delivered, chunk.TotalLength);
                if (t is not null && !MayReplace(t, from, chunk, now)) return Answer(chunk, SnapshotAckStatus.Refused, 0);
                t?.Dispose();
                _current = null;
                try
                {
                    t = new IncomingTransfer(from, chunk, Path.Combine(Directory, $"snap-{from:x16}-{chunk.TransferId:x16}{PartSuffix}"), now);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _log.LogError(e, "cannot store snapshot stream {Index} from {From}", chunk.SnapshotIndex, from);
                    return Answer(chunk, SnapshotAckStatus.Refused, 0);
                }
                _current = t;
                _log.LogInformation("receiving snapshot {Index} (term {Term}, {Bytes} bytes) from {From}", chunk.SnapshotIndex, chunk.SnapshotTerm, chunk.TotalLength, from);
            }
            t.LastChunkAt = now;
            if (t.State == IncomingState.Receiving)
            {
                try
                {
                    t.Write(chunk.Offset, data);
                }
                catch (IOException e)
                {
                    _log.LogError(e, "cannot write snapshot stream {Index} from {From}", chunk.SnapshotIndex, from);
                    t.Dispose();
                    _current = null;
                    return Answer(chunk, SnapshotAckStatus.Refused, 0);
                }
                if (t.IsComplete)
                {
                    t.State = IncomingState.Verifying;
                    verify = t;
                }
            }
            return Answer(chunk, SnapshotAckStatus.Receiving, t.ContiguousBytes);
        }
    }

    /// <summary>
    /// Only one leader per term (paper §5.2), so a higher term means the running stream's sender is deposed; a newer
    /// snapshot or a restart (new id) from the same sender supersedes its own older stream; a stream that went silent is
    /// abandoned. A stream being verified is finished first.
    /// </summary>
    private bool MayReplace(IncomingTransfer t, ulong from, in SnapshotChunk chunk, long now)
    {
        if (t.State == IncomingState.Verifying) return false;
        if (now - t.LastChunkAt > (long)_options.ReceiverIdleTimeout.TotalMilliseconds) return true;
        var d = t.Description;
        if (chunk.MessageTerm != d.MessageTerm) return chunk.MessageTerm > d.MessageTerm;
        return from == t.From && chunk.SnapshotIndex >= d.SnapshotIndex;
    }

    private SnapshotAck Answer(in SnapshotChunk chunk, SnapshotAckStatus status, long acked) =>
        new(chunk.TransferId, acked, _options.Window, status);

    private void SendAck(ulong to, in SnapshotAck ack)
    {
        var w = WireWriter.Rent();
        try
        {
            SnapshotStreamCodec.WriteAck(w, ack);
            _link.Send(to, MessageKind.SnapshotAck, w);
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    /// <summary>Reads the finished stream back, checks it, and hands the InstallSnapshot message to the loop.</summary>
    private void Verify(IncomingTransfer t)
    {
        var d = t.Description;
        Message? message = null;
        try
        {
            message = Rebuild(t.Handle, t.From, d);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or WireFormatException or InvalidDataException)
        {
            _log.LogWarning("snapshot stream {Index} from {From} rejected: {Error}", d.SnapshotIndex, t.From, e.Message);
        }
        lock (_gate)
        {
            if (_current == t) _current = null;
            t.Dispose();
            if (message is not null)
            {
                _lastDelivered = (t.From, d.TransferId);
                DeliveredCount++;
            }
        }
        if (message is not null)
        {
            _log.LogInformation("snapshot {Index} from {From} received whole ({Bytes} bytes)", d.SnapshotIndex, t.From, d.TotalLength);
            _deliver(message);
        }
        SendAck(t.From, Answer(d, message is null ? SnapshotAckStatus.Corrupt : SnapshotAckStatus.Delivered, message is null ? 0 : d.TotalLength));
    }

    private Message Rebuild(SafeFileHandle handle, ulong from, in SnapshotChunk d)
    {
        var envelope = new byte[d.EnvelopeLength];
        ReadExactly(handle, envelope, 0);
        var data = GC.AllocateUninitializedArray<byte>(checked((int)(d.TotalLength - d.EnvelopeLength)));
        ReadExactly(handle, data, d.EnvelopeLength);
        uint crc = Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.Seed, envelope), data));
        if (crc != d.Checksum) throw new InvalidDataException($"checksum 0x{crc:x8}, expected 0x{d.Checksum:x8}");
        var m = RaftCodec.Read(envelope);
        // The envelope must be exactly what the authenticated sender's chunks describe, addressed to us.
        if (m.Type != MessageType.InstallSnapshot || m.From != from || m.To != _self || m.Term != d.MessageTerm
            || m.Snapshot is not { } s || s.Index != d.SnapshotIndex || s.Term != d.SnapshotTerm || s.Data.Length != 0)
            throw new InvalidDataException($"envelope {m} does not match the stream");
        return m with { Snapshot = s with { Data = data } };
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n <= 0) throw new InvalidDataException("snapshot stream file ends early");
            destination = destination[n..];
            offset += n;
        }
    }

    private void SweepIdle()
    {
        lock (_gate)
        {
            if (_current is not { State: IncomingState.Receiving } t) return;
            if (NowMs - t.LastChunkAt <= (long)_options.ReceiverIdleTimeout.TotalMilliseconds) return;
            _log.LogWarning("snapshot stream {Index} from {From} abandoned after {Ms} ms without a chunk", t.Description.SnapshotIndex, t.From, NowMs - t.LastChunkAt);
            t.Dispose();
            _current = null;
        }
    }

    public void Dispose()
    {
        _sweep.Dispose();
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _current?.Dispose();
            _current = null;
        }
    }
}
