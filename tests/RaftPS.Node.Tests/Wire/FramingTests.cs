using System.Buffers.Binary;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Wire;

public class FramingTests
{
    private const ulong Cluster = 0xC0FFEE;
    // Small datagrams make chunking cheap to exercise.
    private static readonly WireOptions Small = new() { MaxDatagramSize = 600 };

    private static byte[] Payload(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static List<byte[]> Frame(WireOptions o, byte[] payload, ulong sender = 7, MessageKind kind = MessageKind.Raft, ulong cluster = Cluster)
    {
        var framer = new DatagramFramer(o, cluster, sender);
        using var w = new WireWriter();
        w.WriteRaw(payload);
        return framer.FrameToArrays(kind, w);
    }

    private static DatagramReceiver Receiver(WireOptions o, WireCounters? c = null) =>
        new(o, Cluster, c, MessageKind.Raft, MessageKind.ClientRequest);

    [Fact]
    public void ClusterIdIsStableXxHash64OfUtf8Name()
    {
        Assert.Equal(ClusterId.FromName("prod"), ClusterId.FromName("prod"));
        Assert.NotEqual(ClusterId.FromName("prod"), ClusterId.FromName("prod2"));
        Assert.Equal(System.IO.Hashing.XxHash64.HashToUInt64("é"u8), ClusterId.FromName("é"));
    }

    [Theory]
    [InlineData(MessageKind.Raft, DatagramFlags.None, 0UL, 0UL, 0UL, (ushort)0, (ushort)1, 0)]
    [InlineData(MessageKind.ClientRequest, DatagramFlags.None, ulong.MaxValue, 1UL, ulong.MaxValue, (ushort)65534, (ushort)65535, 12)]
    [InlineData(MessageKind.ClientReply, DatagramFlags.None, 0x0102030405060708UL, 0xA1A2A3A4A5A6A7A8UL, 42UL, (ushort)3, (ushort)9, 513)]
    public void HeaderRoundTrips(MessageKind kind, DatagramFlags flags, ulong cluster, ulong sender, ulong id, ushort index, ushort count, int length)
    {
        var h = new DatagramHeader(kind, flags, cluster, sender, id, index, count, length);
        var buf = new byte[Datagram.HeaderSize + length];
        Datagram.WriteHeader(buf, h);
        Assert.Equal("RFPS"u8.ToArray(), buf[..4]);
        Assert.True(Datagram.TryParse(buf, cluster, null, out var parsed, out var payload, out var reason), reason.ToString());
        Assert.Equal(h, parsed);
        Assert.Equal(length, payload.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(600 - Datagram.HeaderSize)]        // exactly one full datagram
    [InlineData(600 - Datagram.HeaderSize + 1)]    // one byte over: two chunks
    [InlineData(5000)]
    [InlineData(100_003)]
    public void MessagesOfAnySizeRoundTrip(int length)
    {
        foreach (var keyed in new[] { false, true })
        {
            var o = keyed ? new WireOptions { MaxDatagramSize = 600, Keys = Security.TestKeys.All(Cluster, "s3cret") } : Small;
            var payload = Payload(length, length);
            var datagrams = Frame(o, payload);
            Assert.All(datagrams, d => Assert.True(d.Length <= o.MaxDatagramSize));
            Assert.Equal(Math.Max(1, (length + o.MaxChunkPayload - 1) / o.MaxChunkPayload), datagrams.Count);

            var rx = Receiver(o);
            byte[]? got = null;
            for (int i = 0; i < datagrams.Count; i++)
            {
                bool done = rx.TryReceive(datagrams[i], now: 0, out var m);
                Assert.Equal(i == datagrams.Count - 1, done);
                if (done)
                {
                    Assert.Equal(7UL, m.SenderId);
                    Assert.Equal(MessageKind.Raft, m.Kind);
                    got = m.Payload.ToArray();
                }
            }
            Assert.Equal(payload, got);
            Assert.Equal(0, rx.Counters.DroppedTotal);
            Assert.Equal(1, rx.Counters.MessagesReceived);
        }
    }

    [Fact]
    public void DefaultOptionsUseSixtyThousandByteDatagrams()
    {
        var o = new WireOptions();
        Assert.Equal(60000, o.MaxDatagramSize);
        var datagrams = Frame(o, Payload(150_000, 1));
        Assert.Equal(3, datagrams.Count);
        Assert.Equal(60000, datagrams[0].Length);
    }

    [Theory]
    [InlineData(100)]
    [InlineData(65508)]
    public void OptionsRejectImpossibleDatagramSizes(int size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new DatagramFramer(new WireOptions { MaxDatagramSize = size }, 1, 1));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ReorderedAndDuplicatedChunksCompleteExactlyOnce(int seed)
    {
        var payload = Payload(20_000, seed);
        var datagrams = Frame(Small, payload);
        var rng = new Random(seed);
        // Every chunk twice, in random order.
        var shuffled = datagrams.Concat(datagrams).OrderBy(_ => rng.Next()).ToList();
        var rx = Receiver(Small);
        int completions = 0;
        foreach (var d in shuffled)
        {
            if (rx.TryReceive(d, 0, out var m))
            {
                completions++;
                Assert.Equal(payload, m.Payload.ToArray());
            }
        }
        Assert.Equal(1, completions);
        Assert.Equal(datagrams.Count, rx.Counters.Dropped(DropReason.Duplicate));
        Assert.Equal(0, rx.Reassembler.InProgress);
        Assert.Equal(0, rx.Reassembler.BufferedBytes);
    }

    [Fact]
    public void MissingChunkNeverCompletesAndIsEvictedWhenStale()
    {
        var o = new WireOptions { MaxDatagramSize = 600, ReassemblyTimeout = TimeSpan.FromSeconds(5) };
        var datagrams = Frame(o, Payload(3000, 9));
        var rx = Receiver(o);
        for (int i = 0; i < datagrams.Count; i++)
        {
            if (i == 2) continue;
            Assert.False(rx.TryReceive(datagrams[i], now: 1000 + i, out _));
        }
        Assert.Equal(1, rx.Reassembler.InProgress);
        Assert.Equal(0, rx.EvictStale(now: 1000 + datagrams.Count + 4999)); // not yet stale
        Assert.Equal(1, rx.EvictStale(now: 1000 + datagrams.Count + 5001));
        Assert.Equal(0, rx.Reassembler.InProgress);
        Assert.Equal(0, rx.Reassembler.BufferedBytes);
        Assert.Equal(1, rx.Counters.Dropped(DropReason.ReassemblyTimeout));
        // The missing chunk arriving late starts a new partial that still cannot complete.
        Assert.False(rx.TryReceive(datagrams[2], now: 20_000, out _));
        Assert.Equal(0, rx.Counters.MessagesReceived);
    }

    [Fact]
    public void ReceiverSweepsStalePartialsAsChunksArrive()
    {
        var o = new WireOptions { MaxDatagramSize = 600, ReassemblyTimeout = TimeSpan.FromMilliseconds(100) };
        var framer = new DatagramFramer(o, Cluster, 3);
        var rx = Receiver(o);
        var first = framer.FrameToArrays(MessageKind.Raft, Writer(Payload(2000, 1)));
        var second = framer.FrameToArrays(MessageKind.Raft, Writer(Payload(2000, 2)));
        Assert.False(rx.TryReceive(first[0], 0, out _));
        Assert.False(rx.TryReceive(second[0], 1000, out _)); // sweeping happens on the way
        Assert.Equal(1, rx.Reassembler.InProgress);
        Assert.Equal(1, rx.Counters.Dropped(DropReason.ReassemblyTimeout));
    }

    private static WireWriter Writer(byte[] payload)
    {
        var w = new WireWriter();
        w.WriteRaw(payload);
        return w;
    }

    [Fact]
    public void InProgressLimitEvictsLeastRecentlyActive()
    {
        var o = new WireOptions { MaxDatagramSize = 600, MaxInProgressMessages = 3 };
        var framer = new DatagramFramer(o, Cluster, 3);
        var rx = Receiver(o);
        var messages = Enumerable.Range(0, 4).Select(i => framer.FrameToArrays(MessageKind.Raft, Writer(Payload(1500, i)))).ToList();
        for (int i = 0; i < 4; i++) Assert.False(rx.TryReceive(messages[i][0], now: i, out _));
        Assert.Equal(3, rx.Reassembler.InProgress);
        Assert.Equal(1, rx.Counters.Dropped(DropReason.ReassemblyOverflow));
        // Message 0 was evicted: its remaining chunks cannot complete it; message 3 can.
        foreach (var d in messages[0].Skip(1)) Assert.False(rx.TryReceive(d, 10, out _));
        bool completed = false;
        foreach (var d in messages[3].Skip(1)) completed |= rx.TryReceive(d, 10, out _);
        Assert.True(completed);
    }

    [Fact]
    public void ByteBudgetLimitsBufferedPartials()
    {
        var o = new WireOptions { MaxDatagramSize = 600, MaxReassemblyBytes = 1500 };
        var framer = new DatagramFramer(o, Cluster, 3);
        var rx = Receiver(o);
        var big = framer.FrameToArrays(MessageKind.Raft, Writer(Payload(5000, 1)));
        for (int i = 0; i < big.Count; i++) Assert.False(rx.TryReceive(big[i], 0, out _));
        Assert.True(rx.Reassembler.BufferedBytes <= 1500);
        Assert.True(rx.Counters.Dropped(DropReason.ReassemblyOverflow) >= 1);
        Assert.Equal(0, rx.Counters.MessagesReceived);
    }

    [Fact]
    public void MessageSizeLimitIsEnforcedOnBothSides()
    {
        var sender = new WireOptions { MaxDatagramSize = 600, MaxMessageSize = 4000 };
        Assert.Throws<WireFormatException>(() => Frame(sender, Payload(4001, 1)));

        var receiverOptions = new WireOptions { MaxDatagramSize = 600, MaxMessageSize = 2000 };
        var rx = Receiver(receiverOptions);
        var datagrams = Frame(Small, Payload(4000, 1));
        foreach (var d in datagrams) Assert.False(rx.TryReceive(d, 0, out _));
        Assert.True(rx.Counters.Dropped(DropReason.ReassemblyOverflow) >= 1);
        Assert.Equal(0, rx.Counters.MessagesReceived);
        Assert.True(rx.Reassembler.BufferedBytes < 1000); // at most the short last chunk is held
    }

    public static TheoryData<string, Func<byte[], byte[]>, DropReason> Corruptions => new()
    {
        { "empty", _ => [], DropReason.Malformed },
        { "truncated header", d => d[..20], DropReason.Malformed },
        { "bad magic", d => With(d, 0, (byte)'X'), DropReason.BadMagic },
        { "http request", _ => "GET / HTTP/1.1\r\nHost: x\r\n\r\n and some more bytes"u8.ToArray(), DropReason.BadMagic },
        { "version 1", d => With(d, 4, 1), DropReason.UnsupportedVersion },
        { "kind 0", d => With(d, 5, 0), DropReason.Malformed },
        { "kind 9", d => With(d, 5, 9), DropReason.Malformed },
        { "undefined flag", d => With(d, 6, 0x80), DropReason.Malformed },
        { "foreign cluster", d => WithU64(d, 7, Cluster + 1), DropReason.ForeignCluster },
        { "length too long", d => WithU32(d, 35, (uint)(d.Length - Datagram.HeaderSize + 1)), DropReason.Malformed },
        { "length huge", d => WithU32(d, 35, uint.MaxValue), DropReason.Malformed },
        { "extra byte", d => [.. d, 0], DropReason.Malformed },
        { "payload cut", d => d[..^1], DropReason.Malformed },
        { "chunk count 0", d => WithU16(d, 33, 0), DropReason.Malformed },
        { "chunk index = count", d => WithU16(WithU16(d, 33, 2), 31, 2), DropReason.Malformed },
        { "claims authenticated", d => With(d, 6, 1), DropReason.Malformed }, // length no longer matches (no tag room)
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void CorruptDatagramsAreDroppedByReason(string name, Func<byte[], byte[]> corrupt, DropReason expected)
    {
        var good = Frame(Small, Payload(100, 1))[0];
        var rx = Receiver(Small);
        Assert.False(rx.TryReceive(corrupt(good), 0, out _), name);
        Assert.Equal(1, rx.Counters.Dropped(expected));
        Assert.Equal(1, rx.Counters.DroppedTotal);
        Assert.Equal(1, rx.Counters.DatagramsReceived);
        Assert.True(rx.TryReceive(good, 0, out _)); // and the original was fine
    }

    [Fact]
    public void UnacceptedKindsAreDropped()
    {
        var rx = Receiver(Small);
        Assert.False(rx.TryReceive(Frame(Small, [1], kind: MessageKind.ClientReply)[0], 0, out _));
        Assert.Equal(1, rx.Counters.Dropped(DropReason.UnexpectedKind));
    }

    [Fact]
    public void InconsistentChunksAreMalformed()
    {
        var datagrams = Frame(Small, Payload(2000, 1));
        var rx = Receiver(Small);
        Assert.False(rx.TryReceive(datagrams[0], 0, out _));
        // Same message id, different chunk count.
        Assert.False(rx.TryReceive(WithU16(datagrams[1], 33, (ushort)(datagrams.Count + 1)), 0, out _));
        // Same message id, a non-last chunk of a different size.
        var shorter = WithU32(datagrams[1][..^10], 35, (uint)(datagrams[1].Length - 10 - Datagram.HeaderSize));
        Assert.False(rx.TryReceive(shorter, 0, out _));
        Assert.Equal(2, rx.Counters.Dropped(DropReason.Malformed));
        for (int i = 1; i < datagrams.Count; i++) rx.TryReceive(datagrams[i], 0, out _);
        Assert.Equal(1, rx.Counters.MessagesReceived);
    }

    public static TheoryData<string, string?, string?, DropReason> AuthCases => new()
    {
        { "both keyed, same key", "k1", "k1", DropReason.None },
        { "neither keyed", null, null, DropReason.None },
        { "different keys", "k1", "k2", DropReason.BadAuth },
        { "sender keyed, receiver not", "k1", null, DropReason.BadAuth },
        { "receiver keyed, sender not", null, "k1", DropReason.AuthMismatch },
    };

    [Theory]
    [MemberData(nameof(AuthCases))]
    public void AuthenticationAcceptsOnlyMatchingKeys(string name, string? senderKey, string? receiverKey, DropReason expected)
    {
        var so = new WireOptions { MaxDatagramSize = 600, Keys = senderKey is null ? null : Security.TestKeys.All(Cluster, senderKey) };
        var ro = new WireOptions { MaxDatagramSize = 600, Keys = receiverKey is null ? null : Security.TestKeys.All(Cluster, receiverKey) };
        var rx = Receiver(ro);
        foreach (var d in Frame(so, Payload(1500, 3))) rx.TryReceive(d, 0, out _);
        if (expected == DropReason.None)
        {
            Assert.Equal(1, rx.Counters.MessagesReceived);
            Assert.Equal(0, rx.Counters.DroppedTotal);
        }
        else
        {
            Assert.Equal(0, rx.Counters.MessagesReceived);
            Assert.Equal(3, rx.Counters.Dropped(expected));
        }
        _ = name;
    }

    [Theory]
    [InlineData(6 + 1)]          // cluster id
    [InlineData(15)]             // sender id
    [InlineData(23)]             // message id
    [InlineData(Datagram.HeaderSize)]     // first payload byte
    [InlineData(Datagram.HeaderSize + 99)] // last payload byte
    [InlineData(Datagram.HeaderSize + 100)] // the tag itself
    public void TamperingWithAnAuthenticatedDatagramIsDetected(int offset)
    {
        var o = new WireOptions { MaxDatagramSize = 600, Keys = Security.TestKeys.All(Cluster) };
        var good = Frame(o, Payload(100, 1))[0];
        var bad = With(good, offset, (byte)(good[offset] ^ 0x01));
        var rx = new DatagramReceiver(o, offset == 7 ? Cluster ^ 1 : Cluster, null, MessageKind.Raft);
        Assert.False(rx.TryReceive(bad, 0, out _));
        Assert.Equal(1, rx.Counters.Dropped(DropReason.BadAuth));
    }

    [Fact]
    public void FramerFramesInPlaceAndLeavesAPlaintextPayloadIntact()
    {
        var framer = new DatagramFramer(Small, Cluster, 5, firstMessageId: 100);
        using var w = new WireWriter();
        w.WriteRaw([1, 2, 3]);
        var a = framer.FrameToArrays(MessageKind.Raft, w);
        var b = framer.FrameToArrays(MessageKind.Raft, w);
        Assert.Equal([1, 2, 3], w.WrittenSpan.ToArray());
        Assert.True(Datagram.TryParse(a[0], Cluster, null, out var ha, out _, out _));
        Assert.True(Datagram.TryParse(b[0], Cluster, null, out var hb, out _, out _));
        Assert.Equal(101UL, ha.MessageId);
        Assert.Equal(102UL, hb.MessageId);
    }

    private static byte[] With(byte[] d, int offset, byte value)
    {
        var c = d.ToArray();
        c[offset] = value;
        return c;
    }

    private static byte[] WithU16(byte[] d, int offset, ushort v)
    {
        var c = d.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(offset), v);
        return c;
    }

    private static byte[] WithU32(byte[] d, int offset, uint v)
    {
        var c = d.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(offset), v);
        return c;
    }

    private static byte[] WithU64(byte[] d, int offset, ulong v)
    {
        var c = d.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(offset), v);
        return c;
    }
}
