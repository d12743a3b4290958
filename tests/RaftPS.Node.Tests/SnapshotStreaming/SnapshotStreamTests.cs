using System.Collections.Concurrent;
using System.Net;
using RaftPS.Consensus;
using RaftPS.Node.SnapshotStreaming;
using RaftPS.Node.Transport;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.SnapshotStreaming;

/// <summary>A leader's <see cref="SnapshotSender"/> and a follower's <see cref="SnapshotReceiver"/> over lossy links.</summary>
public sealed class SnapshotStreamTests : IDisposable
{
    private const ulong Leader = 1, Follower = 2;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly SnapshotStreamOptions Fast = new()
    {
        Window = 256 * 1024,
        RetransmitTimeout = TimeSpan.FromMilliseconds(50),
        MaxRetransmitTimeout = TimeSpan.FromMilliseconds(400),
    };

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "raftps-snapstream-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static Message Install(int bytes, int seed, ulong index = 100, ulong term = 3) => new()
    {
        Type = MessageType.InstallSnapshot, From = Leader, To = Follower, Term = term,
        Snapshot = new Snapshot(new SnapshotMetadata(index, 2, ConfState.Of(1, 2, 3)), RandomBytes(bytes, seed)),
    };

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private sealed class Pair
    {
        public required SnapshotSender Sender { get; init; }
        public required SnapshotReceiver Receiver { get; init; }
        public required BlockingCollection<Message> Delivered { get; init; }
        public BlockingCollection<SnapshotTransferReport> Reports { get; } = new();
    }

    /// <param name="deliverChunk">Given the count of chunks that reached the follower so far, whether to hand this one on.</param>
    private Pair Connect(LossyNetwork net, SnapshotStreamOptions options, Func<int, bool>? deliverChunk = null)
    {
        var delivered = new BlockingCollection<Message>();
        var receiver = new SnapshotReceiver(Follower, _dir, net.LinkFor(Follower), delivered.Add, options, null);
        var sender = new SnapshotSender(net.LinkFor(Leader), options, null);
        _owned.Add(receiver);
        _owned.Add(sender);
        var pair = new Pair { Sender = sender, Receiver = receiver, Delivered = delivered };
        sender.TransferEnded += pair.Reports.Add;
        net.Attach(Leader, (from, _, payload) => sender.OnAck(from, SnapshotStreamCodec.ReadAck(payload)));
        int chunks = 0;
        net.Attach(Follower, (from, _, payload) =>
        {
            if (deliverChunk is null || deliverChunk(Interlocked.Increment(ref chunks))) receiver.OnChunk(from, payload);
        });
        return pair;
    }

    private static void AssertSame(Message expected, Message actual)
    {
        Assert.Equal(MessageType.InstallSnapshot, actual.Type);
        Assert.Equal((expected.From, expected.To, expected.Term), (actual.From, actual.To, actual.Term));
        Assert.Equal(expected.Snapshot!.Metadata.Index, actual.Snapshot!.Metadata.Index);
        Assert.Equal(expected.Snapshot.Metadata.Term, actual.Snapshot.Metadata.Term);
        Assert.Equal(expected.Snapshot.Metadata.ConfState.Voters, actual.Snapshot.Metadata.ConfState.Voters);
        Assert.True(expected.Snapshot.Data.AsSpan().SequenceEqual(actual.Snapshot.Data), "snapshot data differs");
    }

    private void AssertNoPartialFiles()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Directory.EnumerateFiles(_dir, "*.part").Any() && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.Empty(Directory.EnumerateFiles(_dir, "*.part"));
    }

    [Fact]
    public void A_snapshot_arrives_intact_over_a_clean_link()
    {
        using var net = new LossyNetwork(1);
        var pair = Connect(net, Fast);
        var m = Install(3_000_000, 1);
        pair.Sender.Start(m);
        Assert.True(pair.Delivered.TryTake(out var got, Wait), "not delivered");
        AssertSame(m, got!);
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Delivered, report!.Outcome);
        Assert.True(report.Bytes > 3_000_000);
        AssertNoPartialFiles();
    }

    [Theory]
    [InlineData(2, 0.10, 8)]
    [InlineData(3, 0.25, 32)]
    [InlineData(4, 0.02, 64)]
    public void Lost_and_reordered_chunks_and_acks_are_recovered(int seed, double drop, int reorder)
    {
        using var net = new LossyNetwork(seed) { DropRate = drop, ReorderWindow = reorder };
        var pair = Connect(net, Fast);
        var m = Install(2_000_000, seed);
        pair.Sender.Start(m);
        Assert.True(pair.Delivered.TryTake(out var got, Wait), $"not delivered; {net.Dropped} of {net.Sent} datagrams dropped");
        AssertSame(m, got!);
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Delivered, report!.Outcome);
        Assert.True(net.Dropped > 0);
        Assert.True(report.BytesSent > report.Bytes, "lost chunks were resent");
        Assert.False(pair.Delivered.TryTake(out _, 200), "delivered once");
        AssertNoPartialFiles();
    }

    [Fact]
    public void A_stream_found_corrupt_is_sent_again_under_a_new_id()
    {
        using var net = new LossyNetwork(5);
        int corrupted = 0;
        net.CorruptChunk = payload =>
        {
            // Flip one data bit of one chunk, once: only the whole-stream checksum can notice.
            if (Interlocked.CompareExchange(ref corrupted, 1, 0) != 0) return false;
            payload[^1] ^= 0x10;
            return true;
        };
        var pair = Connect(net, Fast);
        var m = Install(500_000, 5);
        pair.Sender.Start(m);
        Assert.True(pair.Delivered.TryTake(out var got, Wait), "not delivered");
        AssertSame(m, got!);
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Delivered, report!.Outcome);
        Assert.Equal(1, report.Restarts);
        Assert.Equal(1, pair.Receiver.DeliveredCount);
    }

    [Fact]
    public void One_stream_per_follower_and_a_just_delivered_snapshot_is_not_streamed_again()
    {
        using var net = new LossyNetwork(6);
        bool open = false;
        // Chunks are lost until the requests below are made, so the first stream is surely still running then.
        var pair = Connect(net, Fast, deliverChunk: _ => Volatile.Read(ref open));
        var m = Install(1_000_000, 6);
        pair.Sender.Start(m);
        pair.Sender.Start(m);                          // the core repeating itself
        pair.Sender.Start(Install(1_000_000, 7, 200)); // a newer snapshot while the first one is moving
        Assert.Equal(1, pair.Sender.ActiveCount);
        Volatile.Write(ref open, true);
        Assert.True(pair.Delivered.TryTake(out var got, Wait));
        AssertSame(m, got!);
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Delivered, report!.Outcome);
        pair.Sender.Start(m); // repeated right after delivery: within the cooldown
        Assert.True(pair.Sender.ActiveCount == 0, $"streamed again after {report}");
        Assert.False(pair.Delivered.TryTake(out _, 300));
    }

    [Fact]
    public void A_follower_that_falls_silent_is_abandoned_and_its_partial_file_deleted()
    {
        using var net = new LossyNetwork(8);
        var options = Fast with { AbandonAfter = TimeSpan.FromMilliseconds(600), ReceiverIdleTimeout = TimeSpan.FromMilliseconds(400) };
        var pair = Connect(net, options, deliverChunk: n => n <= 10);
        pair.Sender.Start(Install(2_000_000, 8));
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Abandoned, report!.Outcome);
        Assert.Equal(0, pair.Sender.ActiveCount);
        Assert.Empty(pair.Delivered);
        AssertNoPartialFiles();
        Assert.Equal(0, pair.Receiver.ActiveCount);
    }

    [Fact]
    public void Cancelling_ends_every_stream()
    {
        using var net = new LossyNetwork(9);
        var pair = Connect(net, Fast, deliverChunk: _ => false);
        pair.Sender.Start(Install(1_000_000, 9));
        pair.Sender.CancelAll();
        Assert.True(pair.Reports.TryTake(out var report, Wait));
        Assert.Equal(SnapshotTransferOutcome.Cancelled, report!.Outcome);
        Assert.Equal(0, pair.Sender.ActiveCount);
    }

    private sealed class CaptureLink : ISnapshotLink
    {
        public List<(ulong To, SnapshotAck Ack)> Acks { get; } = [];
        public int MaxPayload => 8192;
        public bool Send(ulong to, MessageKind kind, WireWriter payload)
        {
            lock (Acks) Acks.Add((to, SnapshotStreamCodec.ReadAck(payload.WrittenSpan)));
            return true;
        }
    }

    private static byte[] Chunk(ulong transferId, ulong term, ulong index)
    {
        var c = new SnapshotChunk(transferId, term, index, 1, 10_000, 10, 0, 4096, 0);
        var w = new WireWriter();
        SnapshotStreamCodec.WriteChunk(w, c, new byte[c.DataLength]);
        return w.ToArray();
    }

    [Fact]
    public void A_follower_refuses_a_stale_leaders_stream_and_yields_to_a_newer_term()
    {
        var link = new CaptureLink();
        using var receiver = new SnapshotReceiver(Follower, _dir, link, _ => { }, Fast, null);
        receiver.OnChunk(1, Chunk(11, term: 3, index: 50));
        receiver.OnChunk(3, Chunk(12, term: 2, index: 90));  // a deposed leader
        receiver.OnChunk(3, Chunk(13, term: 4, index: 40));  // the new leader
        receiver.OnChunk(1, Chunk(11, term: 3, index: 50));  // the old stream is gone
        Assert.Equal(
            [(1UL, SnapshotAckStatus.Receiving, 4096L), (3UL, SnapshotAckStatus.Refused, 0L), (3UL, SnapshotAckStatus.Receiving, 4096L), (1UL, SnapshotAckStatus.Refused, 0L)],
            link.Acks.Select(a => (a.To, a.Ack.Status, a.Ack.AckedOffset)));
        Assert.Single(Directory.EnumerateFiles(_dir, "*.part"));
    }

    [Fact]
    public async Task A_snapshot_streams_over_real_udp_with_injected_loss_and_delay()
    {
        var bookA = new PeerAddressBook();
        var bookB = new PeerAddressBook();
        await using var a = new UdpTransport(new IPEndPoint(IPAddress.Loopback, 0), 0x5EED, Leader, bookA, new TransportOptions { FaultSeed = 1 }, null);
        await using var b = new UdpTransport(new IPEndPoint(IPAddress.Loopback, 0), 0x5EED, Follower, bookB, new TransportOptions { FaultSeed = 2 }, null);
        bookA.Set(Follower, b.LocalEndPoint);
        bookB.Set(Leader, a.LocalEndPoint);
        var delivered = new BlockingCollection<Message>();
        using var receiver = new SnapshotReceiver(Follower, _dir, new UdpSnapshotLink(b), delivered.Add, Fast, null);
        using var sender = new SnapshotSender(new UdpSnapshotLink(a), Fast, null);
        a.SnapshotStreamReceived += (_, from, payload) => sender.OnAck(from, SnapshotStreamCodec.ReadAck(payload));
        b.SnapshotStreamReceived += (_, from, payload) => receiver.OnChunk(from, payload);
        a.Start();
        b.Start();
        var faults = new FaultSettings { DropRate = 0.05, Delay = TimeSpan.FromMilliseconds(1) };
        a.Faults = faults;
        b.Faults = faults;
        var m = Install(6_000_000, 10);
        sender.Start(m);
        Assert.True(delivered.TryTake(out var got, Wait), "not delivered");
        AssertSame(m, got!);
        Assert.True(a.Counters.Dropped(DropReason.FaultInjected) + b.Counters.Dropped(DropReason.FaultInjected) > 0);
    }
}
