using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using RaftPS.Consensus;
using RaftPS.Node.Tests.Wire;
using RaftPS.Node.Transport;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Transport;

/// <summary>Two transports on 127.0.0.1 (ports from binding to 0) exchanging real datagrams.</summary>
public sealed class UdpTransportTests : IAsyncLifetime
{
    private const ulong ClusterA = 0x5EED;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly IPEndPoint AnyLoopback = new(IPAddress.Loopback, 0);

    private readonly List<IAsyncDisposable> _disposables = [];

    private sealed class Node
    {
        public required UdpTransport Transport { get; init; }
        public Channel<Message> Raft { get; } = Channel.CreateUnbounded<Message>();
        public Channel<(ClientRequest Request, EndPoint From)> Clients { get; } = Channel.CreateUnbounded<(ClientRequest, EndPoint)>();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var d in _disposables) await d.DisposeAsync();
    }

    private Node Start(ulong id, PeerAddressBook book, WireOptions? wire = null, ulong cluster = ClusterA, int seed = 1)
    {
        var t = new UdpTransport(AnyLoopback, cluster, id, book, new TransportOptions { Wire = wire ?? new WireOptions(), FaultSeed = seed }, null);
        _disposables.Add(t);
        var n = new Node { Transport = t };
        t.RaftMessageReceived += m => n.Raft.Writer.TryWrite(m);
        t.ClientRequestReceived += (r, ep) => n.Clients.Writer.TryWrite((r, ep));
        t.Start();
        return n;
    }

    private (Node A, Node B) Pair(WireOptions? wire = null)
    {
        var bookA = new PeerAddressBook();
        var bookB = new PeerAddressBook();
        var a = Start(1, bookA, wire);
        var b = Start(2, bookB, wire, seed: 2);
        bookA.Set(2, b.Transport.LocalEndPoint);
        bookB.Set(1, a.Transport.LocalEndPoint);
        return (a, b);
    }

    private static Message Msg(ulong from, ulong to, ulong index, int dataBytes = 0) => new()
    {
        Type = MessageType.Append,
        From = from,
        To = to,
        Term = 3,
        Index = index,
        Entries = dataBytes == 0 ? [] : [new Entry(3, index + 1, EntryType.Normal, Enumerable.Range(0, dataBytes).Select(i => (byte)i).ToArray())],
    };

    private static async Task<T> Next<T>(Channel<T> c)
    {
        using var cts = new CancellationTokenSource(Wait);
        return await c.Reader.ReadAsync(cts.Token);
    }

    /// <summary>Polls until the condition holds; bounded by <see cref="Wait"/>.</summary>
    private static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Sends a sentinel and reads until it arrives; returns the indexes seen before it. Datagrams between two
    /// loopback sockets arrive in order, so anything sent before the sentinel and not seen was dropped.
    /// </summary>
    private static async Task<List<ulong>> DrainUntilSentinel(Node from, Node to, ulong toId, ulong fromId)
    {
        const ulong Sentinel = 999_999;
        Assert.True(from.Transport.Send(Msg(fromId, toId, Sentinel)));
        var seen = new List<ulong>();
        while (true)
        {
            var m = await Next(to.Raft);
            if (m.Index == Sentinel) return seen;
            seen.Add(m.Index);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RaftMessagesFlowBothWaysIncludingChunkedSnapshots(bool keyed)
    {
        var wire = new WireOptions { Keys = keyed ? Security.TestKeys.All(ClusterA, "drill") : null };
        var (a, b) = Pair(wire);
        var r = new Random(3);
        for (int i = 0; i < 20; i++)
        {
            var m = RaftGen.Message(r) with { From = 1, To = 2 };
            Assert.True(a.Transport.Send(m));
            RaftGen.Equal(m, await Next(b.Raft));
            var back = RaftGen.Message(r) with { From = 2, To = 1 };
            Assert.True(b.Transport.Send(back));
            RaftGen.Equal(back, await Next(a.Raft));
        }

        // A 300 KB snapshot spans several 60000-byte datagrams.
        var snapshot = new Message
        {
            Type = MessageType.InstallSnapshot, From = 1, To = 2, Term = 4,
            Snapshot = new Snapshot(new SnapshotMetadata(1000, 4, ConfState.Of(1, 2, 3)), RandomBytes(300_000)),
        };
        long sentBefore = a.Transport.Counters.DatagramsSent;
        Assert.True(a.Transport.Send(snapshot));
        RaftGen.Equal(snapshot, await Next(b.Raft));
        Assert.Equal(6, a.Transport.Counters.DatagramsSent - sentBefore);
        Assert.Equal(0, b.Transport.Counters.DroppedTotal);
    }

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        new Random(n).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task ClientRequestsGetRepliesThroughTheSharedPort()
    {
        var (_, b) = Pair();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(AnyLoopback);
        var wire = new ClientWire(new WireOptions(), ClusterA, clientId: 0xC1);
        var request = new ClientRequest { RequestId = 17, ClientId = 0xC1, Sequence = 1, Op = ClientOp.Put, Key = "k", Value = [1, 2] };
        foreach (var d in wire.FrameRequest(request)) client.SendTo(d, b.Transport.LocalEndPoint);

        var (got, replyTo) = await Next(b.Clients);
        WireGen.Equal(request, got);
        Assert.Equal(client.LocalEndPoint, replyTo);

        // A reply large enough to be chunked.
        var reply = new ClientReply { RequestId = 17, Items = [new KvItem("k", RandomBytes(150_000), 12)] };
        Assert.True(b.Transport.SendReply(reply, replyTo));
        var buffer = new byte[65536];
        ClientReply? parsed = null;
        client.ReceiveTimeout = (int)Wait.TotalMilliseconds;
        for (int i = 0; i < 10 && parsed is null; i++)
        {
            int n = client.Receive(buffer);
            wire.TryParseReply(buffer.AsSpan(0, n), Environment.TickCount64, out parsed);
        }
        WireGen.Equal(reply, Assert.IsType<ClientReply>(parsed));
    }

    [Fact]
    public async Task PartitionAppliedAtRunTimeDropsBothDirectionsAndHeals()
    {
        var (a, b) = Pair();
        Assert.True(a.Transport.Send(Msg(1, 2, 1)));
        Assert.Equal(1UL, (await Next(b.Raft)).Index);

        // Outgoing side: A refuses to send to 2.
        a.Transport.Faults = new FaultSettings { PartitionedFrom = new HashSet<ulong> { 2 } };
        for (ulong i = 10; i < 20; i++) Assert.False(a.Transport.Send(Msg(1, 2, i)));
        Assert.Equal(10, a.Transport.Counters.Dropped(DropReason.FaultInjected));
        a.Transport.Faults = FaultSettings.None;
        Assert.Empty(await DrainUntilSentinel(a, b, 2, 1));

        // Incoming side: B discards what arrives from 1.
        b.Transport.Faults = new FaultSettings { PartitionedFrom = new HashSet<ulong> { 1 } };
        for (ulong i = 20; i < 30; i++) Assert.True(a.Transport.Send(Msg(1, 2, i)));
        await Eventually(() => b.Transport.Counters.Dropped(DropReason.FaultInjected) == 10, "B to drop 10 datagrams");
        // ... and sends nothing to 1 either.
        Assert.False(b.Transport.Send(Msg(2, 1, 5)));
        b.Transport.Faults = FaultSettings.None;
        Assert.Empty(await DrainUntilSentinel(a, b, 2, 1));

        Assert.True(b.Transport.Send(Msg(2, 1, 6)));
        Assert.Equal(6UL, (await Next(a.Raft)).Index);
    }

    [Fact]
    public async Task DropRateAppliedAtRunTimeLosesSomeButNotAllMessages()
    {
        var (a, b) = Pair();
        a.Transport.Faults = new FaultSettings { DropRate = 0.5 };
        var delivered = new List<ulong>();
        // Batches of 20 keep the loopback socket buffer far from full, so only injected drops lose datagrams.
        for (ulong batch = 0; batch < 10; batch++)
        {
            for (ulong i = 0; i < 20; i++) a.Transport.Send(Msg(1, 2, batch * 20 + i));
            a.Transport.Faults = FaultSettings.None;
            delivered.AddRange(await DrainUntilSentinel(a, b, 2, 1));
            a.Transport.Faults = new FaultSettings { DropRate = 0.5 };
        }
        long dropped = a.Transport.Counters.Dropped(DropReason.FaultInjected);
        Assert.Equal(200, delivered.Count + dropped);
        Assert.InRange(dropped, 60, 140);
        Assert.Equal(delivered.Order(), delivered);

        // Incoming drops on B: everything A sends arrives at B's socket, about half reaches the handler.
        a.Transport.Faults = FaultSettings.None;
        long receivedBefore = b.Transport.Counters.DatagramsReceived;
        b.Transport.Faults = new FaultSettings { DropRate = 0.5 };
        for (ulong i = 0; i < 20; i++) a.Transport.Send(Msg(1, 2, 1000 + i));
        await Eventually(() => b.Transport.Counters.DatagramsReceived >= receivedBefore + 20, "B to receive the batch");
        b.Transport.Faults = FaultSettings.None;
        var seen = await DrainUntilSentinel(a, b, 2, 1);
        long droppedAtB = b.Transport.Counters.Dropped(DropReason.FaultInjected);
        Assert.Equal(20, seen.Count + droppedAtB);
        Assert.InRange(droppedAtB, 1, 19);
    }

    [Fact]
    public async Task DelayHoldsMessagesBack()
    {
        var (a, b) = Pair();
        a.Transport.Faults = new FaultSettings { Delay = TimeSpan.FromMilliseconds(300) };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(a.Transport.Send(Msg(1, 2, 1)));
        Assert.Equal(1UL, (await Next(b.Raft)).Index);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(280), $"arrived after {sw.Elapsed}");

        a.Transport.Faults = FaultSettings.None;
        b.Transport.Faults = new FaultSettings { Delay = TimeSpan.FromMilliseconds(300) };
        sw.Restart();
        Assert.True(a.Transport.Send(Msg(1, 2, 2)));
        Assert.Equal(2UL, (await Next(b.Raft)).Index);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(280), $"delivered after {sw.Elapsed}");
    }

    [Fact]
    public async Task SuspendedNodeNeitherHearsNorSpeaksIncludingClients()
    {
        var (a, b) = Pair();
        b.Transport.Faults = new FaultSettings { Suspended = true };
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(AnyLoopback);
        var wire = new ClientWire(new WireOptions(), ClusterA, 5);
        foreach (var d in wire.FrameRequest(new ClientRequest { Op = ClientOp.Get, Key = "x" })) client.SendTo(d, b.Transport.LocalEndPoint);
        Assert.True(a.Transport.Send(Msg(1, 2, 1)));
        await Eventually(() => b.Transport.Counters.Dropped(DropReason.FaultInjected) == 2, "B to drop client and peer datagrams");
        Assert.False(b.Transport.Send(Msg(2, 1, 1)));
        Assert.False(b.Transport.SendReply(new ClientReply(), client.LocalEndPoint!));

        b.Transport.Faults = FaultSettings.None;
        Assert.Empty(await DrainUntilSentinel(a, b, 2, 1));
        Assert.False(b.Clients.Reader.TryRead(out _));
        foreach (var d in wire.FrameRequest(new ClientRequest { Op = ClientOp.Get, Key = "y" })) client.SendTo(d, b.Transport.LocalEndPoint);
        Assert.Equal("y", (await Next(b.Clients)).Request.Key);
    }

    [Fact]
    public async Task MisaddressedForeignAndUnknownTrafficIsDroppedAndCounted()
    {
        var (a, b) = Pair();
        // A thinks node 3 lives at B's address (stale address book): B must not accept a message for 3.
        a.Transport.Peers.Set(3, b.Transport.LocalEndPoint);
        Assert.True(a.Transport.Send(Msg(1, 3, 1)));
        // A body claiming another origin than the datagram's sender.
        Assert.True(a.Transport.Send(Msg(7, 2, 2)));
        // Another cluster's node.
        var foreign = Start(1, new PeerAddressBook([new(2, b.Transport.LocalEndPoint)]), cluster: ClusterA + 1);
        Assert.True(foreign.Transport.Send(Msg(1, 2, 3)));
        await Eventually(() => b.Transport.Counters.Dropped(DropReason.Misaddressed) == 2
                               && b.Transport.Counters.Dropped(DropReason.ForeignCluster) == 1, "B to drop misrouted traffic");
        Assert.False(a.Transport.Send(Msg(1, 42, 1)));
        Assert.Equal(1, a.Transport.Counters.Dropped(DropReason.UnknownPeer));
        Assert.Empty(await DrainUntilSentinel(a, b, 2, 1));
    }

    [Fact]
    public async Task KeyMismatchBetweenNodesIsDropped()
    {
        var bookA = new PeerAddressBook();
        var a = Start(1, bookA, new WireOptions { Keys = Security.TestKeys.All(ClusterA, "a") });
        var b = Start(2, new PeerAddressBook(), new WireOptions { Keys = Security.TestKeys.All(ClusterA, "b") });
        var c = Start(3, new PeerAddressBook(), new WireOptions());
        bookA.Set(2, b.Transport.LocalEndPoint);
        bookA.Set(3, c.Transport.LocalEndPoint);
        Assert.True(a.Transport.Send(Msg(1, 2, 1)));
        Assert.True(a.Transport.Send(Msg(1, 3, 1)));
        await Eventually(() => b.Transport.Counters.Dropped(DropReason.BadAuth) == 1
                               && c.Transport.Counters.Dropped(DropReason.BadAuth) == 1, "auth drops");
    }

    [Fact]
    public async Task ReceiveLoopSurvivesGarbageHandlerExceptionsAndUnreachablePeers()
    {
        var (a, b) = Pair();
        int calls = 0;
        b.Transport.RaftMessageReceived += m =>
        {
            if (Interlocked.Increment(ref calls) == 1) throw new InvalidOperationException("handler bug");
        };
        using var noise = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var r = new Random(8);
        for (int i = 0; i < 50; i++) noise.SendTo(WireGen.Bytes(r, 300), b.Transport.LocalEndPoint);
        Assert.True(a.Transport.Send(Msg(1, 2, 1))); // first handler call throws

        // A peer that went away: its port now refuses (ICMP port unreachable).
        var gone = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        gone.Bind(AnyLoopback);
        var goneEp = (IPEndPoint)gone.LocalEndPoint!;
        gone.Dispose();
        b.Transport.Peers.Set(9, goneEp);
        for (ulong i = 0; i < 5; i++) b.Transport.Send(Msg(2, 9, i));

        Assert.Equal(1UL, (await Next(b.Raft)).Index);
        Assert.Empty(await DrainUntilSentinel(a, b, 2, 1));
        Assert.True(b.Transport.Counters.DroppedTotal >= 50 - 1); // random bytes can hardly parse
        Assert.True(b.Transport.Send(Msg(2, 1, 77)));
        Assert.Equal(77UL, (await Next(a.Raft)).Index);
    }

    [Fact]
    public async Task AddressBookUpdatesTakeEffectImmediately()
    {
        var (a, b) = Pair();
        // Node 2 "moves": a new transport with the same id on a new port.
        var moved = Start(2, new PeerAddressBook([new(1, a.Transport.LocalEndPoint)]));
        a.Transport.Peers.Set(2, moved.Transport.LocalEndPoint);
        Assert.True(a.Transport.Send(Msg(1, 2, 5)));
        Assert.Equal(5UL, (await Next(moved.Raft)).Index);
        Assert.False(b.Raft.Reader.TryRead(out _));
        Assert.True(a.Transport.Peers.Remove(2));
        Assert.False(a.Transport.Send(Msg(1, 2, 6)));
    }

    [Fact]
    public void FaultSettingsAreValidatedAndCopied()
    {
        var (a, _) = Pair();
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Transport.Faults = new FaultSettings { DropRate = 1.5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Transport.Faults = new FaultSettings { DropRate = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Transport.Faults = new FaultSettings { Delay = TimeSpan.FromMilliseconds(-1) });
        var set = new HashSet<ulong> { 2 };
        a.Transport.Faults = new FaultSettings { PartitionedFrom = set };
        set.Clear();
        Assert.Contains(2UL, a.Transport.Faults.PartitionedFrom);
        Assert.False(a.Transport.Send(Msg(1, 2, 1)));
    }
}
