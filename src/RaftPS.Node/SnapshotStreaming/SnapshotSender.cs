using System.Buffers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// Leader side of snapshot streaming. The consensus core still emits one InstallSnapshot message per follower (paper
/// §7); the node hands it here instead of to the transport, and this class streams it as chunks over a window with
/// cumulative acknowledgements: a lost chunk is resent after three duplicate acknowledgements or, at the latest, when the
/// retransmission timer expires, and sending resumes from the last acknowledged offset. At most one stream per
/// follower; a stream whose follower falls silent is abandoned (the core asks again later).
/// <para>
/// Threads: <see cref="Start"/> and <see cref="CancelAll"/> come from the event loop, <see cref="OnAck"/> from the
/// transport's receive thread; one pump thread of this class does all sending, so neither of the others ever waits
/// for a socket or copies snapshot bytes.
/// </para>
/// </summary>
public sealed class SnapshotSender : IDisposable
{
    private const int MaxBurst = 64;
    private const int IdleWaitMs = 10;

    private readonly ISnapshotLink _link;
    private readonly SnapshotStreamOptions _options;
    private readonly ILogger _log;
    private readonly object _gate = new();
    private readonly Dictionary<ulong, OutgoingTransfer> _transfers = new();
    // Follower -> the last snapshot it was streamed successfully, and when: see SnapshotStreamOptions.RepeatCooldown.
    private readonly Dictionary<ulong, (ulong Index, ulong Term, long At)> _recent = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _pump;
    private volatile bool _disposed;

    public SnapshotSender(ISnapshotLink link, SnapshotStreamOptions? options, ILogger? log, string name = "")
    {
        ArgumentNullException.ThrowIfNull(link);
        _link = link;
        _options = (options ?? new SnapshotStreamOptions()).Validate();
        _log = log ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        int max = link.MaxPayload - SnapshotStreamCodec.ChunkHeaderSize;
        if (max < 256) throw new ArgumentException("datagrams too small for snapshot chunks", nameof(link));
        ChunkSize = _options.ChunkSize > 0 ? Math.Min(_options.ChunkSize, max) : max;
        _pump = new Thread(PumpLoop) { IsBackground = true, Name = $"raftps-snapsend{name}" };
        _pump.Start();
    }

    /// <summary>Data bytes per chunk.</summary>
    public int ChunkSize { get; }

    /// <summary>Raised on the pump or receive thread when a stream ends, however it ends.</summary>
    public event Action<SnapshotTransferReport>? TransferEnded;

    /// <summary>Followers with a stream in progress.</summary>
    public int ActiveCount
    {
        get { lock (_gate) return _transfers.Count; }
    }

    private static long NowMs => Environment.TickCount64;

    /// <summary>
    /// Streams <paramref name="installSnapshot"/> to its recipient, unless a stream to that follower is already running
    /// (the core repeats its request when its patience runs out; the running stream is the answer) or that follower took
    /// this very snapshot moments ago.
    /// </summary>
    public void Start(Message installSnapshot)
    {
        var source = new SnapshotStreamSource(installSnapshot);
        var snap = installSnapshot.Snapshot!;
        long now = NowMs;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_transfers.TryGetValue(installSnapshot.To, out var running))
            {
                lock (running)
                {
                    // A newer snapshot does not preempt a stream that is moving: restarting on every compaction could
                    // keep a slow follower from ever finishing. It gets the newer one (or entries) afterwards.
                    if (running.Outcome is null) return;
                }
            }
            if (_recent.TryGetValue(installSnapshot.To, out var r) && r.Index == snap.Index && r.Term == snap.Term
                && now - r.At < (long)_options.RepeatCooldown.TotalMilliseconds)
                return;
            _transfers[installSnapshot.To] = new OutgoingTransfer(installSnapshot.To, source, ChunkSize, now, (int)_options.RetransmitTimeout.TotalMilliseconds);
        }
        _log.LogInformation("streaming snapshot {Index} (term {Term}, {Bytes} bytes) to {To}", snap.Index, snap.Term, source.Length, installSnapshot.To);
        _wake.Set();
    }

    /// <summary>Ends every stream (this node stopped leading: its snapshots' term is over).</summary>
    public void CancelAll()
    {
        List<OutgoingTransfer> ended;
        lock (_gate)
        {
            ended = [.. _transfers.Values];
            _transfers.Clear();
        }
        foreach (var t in ended) End(t, SnapshotTransferOutcome.Cancelled);
    }

    /// <summary>An acknowledgement from follower <paramref name="from"/> (authenticated by the transport).</summary>
    public void OnAck(ulong from, in SnapshotAck ack)
    {
        OutgoingTransfer? t;
        lock (_gate)
        {
            if (!_transfers.TryGetValue(from, out t)) return;
        }
        long now = NowMs;
        SnapshotTransferOutcome? ended = null;
        lock (t)
        {
            if (t.Outcome is not null || ack.TransferId != t.TransferId) return; // a stale stream's echo
            t.LastHeardAt = now;
            t.Credit = ack.Credit;
            switch (ack.Status)
            {
                case SnapshotAckStatus.Receiving:
                    OnCumulativeAck(t, Math.Min(ack.AckedOffset, t.Length), now);
                    break;
                case SnapshotAckStatus.Delivered:
                    ended = SnapshotTransferOutcome.Delivered;
                    break;
                case SnapshotAckStatus.Corrupt:
                    _log.LogWarning("follower {To} found snapshot stream {Index} corrupt; streaming it again", t.To, t.SnapshotIndex);
                    t.Restart(now);
                    break;
                case SnapshotAckStatus.Refused:
                    ended = SnapshotTransferOutcome.Refused;
                    break;
            }
        }
        if (ended is { } outcome)
        {
            Remove(t);
            End(t, outcome);
        }
        _wake.Set();
    }

    private void OnCumulativeAck(OutgoingTransfer t, long acked, long now)
    {
        if (acked > t.Acked)
        {
            t.Acked = acked;
            if (t.Next < acked) t.Next = acked;
            t.LastProgressAt = now;
            t.RtoMs = (int)_options.RetransmitTimeout.TotalMilliseconds;
            t.DuplicateAcks = 0;
            return;
        }
        // The same offset again while more is in flight: a later chunk arrived, the one at 'acked' did not (TCP's fast
        // retransmit, RFC 5681 §3.2). Resend just that chunk once per hole.
        if (acked == t.Acked && t.Next > acked && ++t.DuplicateAcks == 3) t.FastRetransmit = acked;
    }

    private void Remove(OutgoingTransfer t)
    {
        lock (_gate)
        {
            if (_transfers.TryGetValue(t.To, out var current) && current == t) _transfers.Remove(t.To);
        }
    }

    private void End(OutgoingTransfer t, SnapshotTransferOutcome outcome)
    {
        lock (t)
        {
            if (t.Outcome is not null) return;
            t.Outcome = outcome;
        }
        long now = NowMs;
        if (outcome == SnapshotTransferOutcome.Delivered)
            lock (_gate) _recent[t.To] = (t.SnapshotIndex, t.SnapshotTerm, now);
        var report = new SnapshotTransferReport(t.To, t.SnapshotIndex, t.Length, TimeSpan.FromMilliseconds(now - t.StartedAt), outcome,
            t.BytesSent, t.Retransmits, t.Restarts);
        _log.Log(outcome == SnapshotTransferOutcome.Delivered ? LogLevel.Information : LogLevel.Warning,
            "snapshot stream {Index} to {To}: {Outcome} after {Ms} ms, {Bytes} bytes ({MBps:F1} MiB/s), {Sent} sent, {Retransmits} timeouts, {Restarts} restarts",
            t.SnapshotIndex, t.To, outcome, now - t.StartedAt, t.Length, report.BytesPerSecond / (1 << 20), t.BytesSent, t.Retransmits, t.Restarts);
        try
        {
            TransferEnded?.Invoke(report);
        }
        catch (Exception e)
        {
            _log.LogError(e, "snapshot transfer handler failed");
        }
    }

    private void PumpLoop()
    {
        var offsets = new List<long>(MaxBurst + 1);
        var work = new List<OutgoingTransfer>();
        try
        {
            while (!_disposed)
            {
                work.Clear();
                lock (_gate) work.AddRange(_transfers.Values);
                bool more = false;
                foreach (var t in work) more |= Pump(t, offsets);
                if (!more) _wake.WaitOne(IdleWaitMs);
            }
        }
        catch (Exception e)
        {
            // Streams stop; the core's snapshot patience makes it ask again, and a new Start gets no pump: log loudly.
            _log.LogCritical(e, "snapshot sender stopped");
        }
    }

    /// <summary>One round for one stream: time out, retransmit, fill the window. True if the window has room for more right away.</summary>
    private bool Pump(OutgoingTransfer t, List<long> offsets)
    {
        // The checksum of a large snapshot takes a while: compute it here, never on the loop or under a lock.
        uint checksum = t.Source.Checksum;
        long now = NowMs;
        offsets.Clear();
        SnapshotChunk template;
        bool more, silent;
        lock (t)
        {
            if (t.Outcome is not null) return false;
            silent = now - t.LastHeardAt > (long)_options.AbandonAfter.TotalMilliseconds;
            template = new SnapshotChunk(t.TransferId, t.Source.Message.Term, t.SnapshotIndex, t.SnapshotTerm, t.Length,
                t.Source.EnvelopeLength, checksum, t.ChunkSize, 0);
            more = !silent && PlanSends(t, now, offsets);
        }
        if (silent)
        {
            Remove(t);
            End(t, SnapshotTransferOutcome.Abandoned);
            return false;
        }
        long sent = 0;
        foreach (long offset in offsets) sent += SendChunk(t, template with { Offset = offset });
        if (sent > 0) lock (t) t.BytesSent += sent;
        return more;
    }

    private bool PlanSends(OutgoingTransfer t, long now, List<long> offsets)
    {
        int maxRto = (int)_options.MaxRetransmitTimeout.TotalMilliseconds;
        if (t.Acked >= t.Length)
        {
            // Every byte is acknowledged and the follower is verifying. If its verdict is lost, poke it with the last
            // chunk: it answers with the verdict again.
            if (now - t.LastSendAt >= t.RtoMs)
            {
                offsets.Add((t.Length - 1) / t.ChunkSize * t.ChunkSize);
                t.LastSendAt = now;
                t.RtoMs = Math.Min(t.RtoMs * 2, maxRto);
            }
            return false;
        }
        if (t.Next > t.Acked && now - t.LastProgressAt >= t.RtoMs)
        {
            // No progress for a whole timeout: the chunk at the acknowledged offset (or its acknowledgement) is lost.
            // Resume from there; chunks the follower already has are rewritten in place, harmlessly.
            t.Next = t.Acked;
            t.LastProgressAt = now;
            t.RtoMs = Math.Min(t.RtoMs * 2, maxRto);
            t.Retransmits++;
        }
        if (t.FastRetransmit >= 0)
        {
            offsets.Add(t.FastRetransmit);
            t.FastRetransmit = -1;
        }
        long window = Math.Min(_options.Window, Math.Max(t.Credit, t.ChunkSize));
        while (t.Next < t.Length && t.Next - t.Acked < window && offsets.Count < MaxBurst)
        {
            offsets.Add(t.Next);
            t.Next += t.ChunkSize;
        }
        if (offsets.Count > 0) t.LastSendAt = now;
        return offsets.Count >= MaxBurst;
    }

    private int SendChunk(OutgoingTransfer t, in SnapshotChunk chunk)
    {
        var w = WireWriter.Rent();
        try
        {
            SnapshotStreamCodec.WriteChunk(w, chunk, t.Source.Read);
            return _link.Send(t.To, MessageKind.SnapshotChunk, w) ? chunk.DataLength : 0;
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        CancelAll();
        _disposed = true;
        _wake.Set();
        if (Thread.CurrentThread != _pump) _pump.Join();
        _wake.Dispose();
    }
}
