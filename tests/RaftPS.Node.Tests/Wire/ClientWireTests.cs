using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Wire;

public class ClientWireTests
{
    private const ulong Cluster = 77;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RequestsAndLargeChunkedRepliesFlowBetweenClientAndNodeSideCode(bool keyed)
    {
        var o = new WireOptions { MaxDatagramSize = 1000, Keys = keyed ? Security.TestKeys.All(Cluster, "k") : null };
        var client = new ClientWire(o, Cluster, clientId: 0xABCDEF);

        // Node side: the same primitives the transport uses.
        var nodeRx = new DatagramReceiver(o, Cluster, null, MessageKind.Raft, MessageKind.ClientRequest);
        var nodeFramer = new DatagramFramer(o, Cluster, senderId: 1);

        var request = new ClientRequest { RequestId = 5, ClientId = 0xABCDEF, Sequence = 1, Op = ClientOp.Put, Key = "k", Value = new byte[3000] };
        var datagrams = client.FrameRequest(request);
        Assert.Equal(4, datagrams.Count);
        ClientRequest? received = null;
        foreach (var d in datagrams)
        {
            if (nodeRx.TryReceive(d, 0, out var m))
            {
                Assert.Equal(MessageKind.ClientRequest, m.Kind);
                Assert.Equal(0xABCDEFUL, m.SenderId);
                received = ClientCodec.ReadRequest(m.Payload);
            }
        }
        WireGen.Equal(request, Assert.IsType<ClientRequest>(received));

        var reply = new ClientReply
        {
            RequestId = 5,
            Items = Enumerable.Range(0, 200).Select(i => new KvItem($"key/{i}", new byte[i], (ulong)i)).ToArray(),
        };
        using var w = new WireWriter();
        ClientCodec.Write(w, reply);
        var replyDatagrams = nodeFramer.FrameToArrays(MessageKind.ClientReply, w);
        Assert.True(replyDatagrams.Count > 1);
        ClientReply? got = null;
        foreach (var d in replyDatagrams.AsEnumerable().Reverse())
        {
            if (client.TryParseReply(d, 0, out var r)) got = r;
        }
        WireGen.Equal(reply, Assert.IsType<ClientReply>(got));
        Assert.Equal(0, client.Counters.DroppedTotal);
    }

    [Fact]
    public void ClientIgnoresRequestsAndGarbage()
    {
        var o = new WireOptions();
        var client = new ClientWire(o, Cluster, 1);
        var other = new ClientWire(o, Cluster, 2);
        foreach (var d in other.FrameRequest(new ClientRequest { Op = ClientOp.Get }))
            Assert.False(client.TryParseReply(d, 0, out _));
        Assert.False(client.TryParseReply("not a raftps datagram at all, just text"u8.ToArray(), 0, out _));
        // A well-framed reply datagram whose payload does not decode.
        var framer = new DatagramFramer(o, Cluster, 9);
        var bogus = framer.FrameToArrays(MessageKind.ClientReply, WithPayload([0xFF]))[0];
        Assert.False(client.TryParseReply(bogus, 0, out _));
        Assert.Equal(1, client.Counters.Dropped(DropReason.UnexpectedKind));
        Assert.Equal(1, client.Counters.Dropped(DropReason.BadMagic));
        Assert.Equal(1, client.Counters.Dropped(DropReason.Malformed));
    }

    private static WireWriter WithPayload(byte[] payload)
    {
        var w = new WireWriter();
        w.WriteRaw(payload);
        return w;
    }
}
