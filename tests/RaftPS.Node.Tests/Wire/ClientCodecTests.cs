using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Wire;

public class ClientCodecTests
{
    public static TheoryData<string, ClientRequest> Requests => new()
    {
        { "minimal", new ClientRequest { Op = ClientOp.Get } },
        { "get", new ClientRequest { RequestId = 1, ClientId = 2, Sequence = 3, Op = ClientOp.Get, Key = "a/b" } },
        { "put", new ClientRequest { RequestId = ulong.MaxValue, ClientId = ulong.MaxValue, Sequence = 1, Op = ClientOp.Put, Key = "clé/中文/😀", Value = [0, 255, 7] } },
        { "put empty value", new ClientRequest { Op = ClientOp.Put, Key = "k", Value = [] } },
        { "cas version 0", new ClientRequest { Op = ClientOp.CompareAndSet, Key = "k", Value = [1], ExpectedVersion = 0 } },
        { "cas value", new ClientRequest { Op = ClientOp.CompareAndSet, Key = "k", Value = [1], ExpectedValue = [2, 3] } },
        { "list stale", new ClientRequest { Op = ClientOp.List, Key = "pre*", Consistency = ReadConsistency.Stale, Limit = 100 } },
        { "negative limit", new ClientRequest { Op = ClientOp.List, Limit = int.MinValue } },
        { "status", new ClientRequest { Op = ClientOp.Status } },
        { "faults", new ClientRequest { Op = ClientOp.SetFaults, Faults = new FaultSpec { DropRate = 0.25, DelayMs = 30, PartitionFrom = ["n2", "n3"], SuspendMs = 1500 } } },
        { "no faults", new ClientRequest { Op = ClientOp.SetFaults, Faults = FaultSpec.None } },
        { "transfer", new ClientRequest { Op = ClientOp.TransferLeadership, Key = "n2" } },
    };

    [Fact]
    public void DropRateOutsideZeroToOneFailsAtTheSender()
    {
        Assert.Throws<WireFormatException>(() => ClientCodec.Encode(new ClientRequest { Op = ClientOp.SetFaults, Faults = new FaultSpec { DropRate = 1.5 } }));
        Assert.Throws<WireFormatException>(() => ClientCodec.Encode(new ClientRequest { Op = ClientOp.SetFaults, Faults = new FaultSpec { DropRate = double.NaN } }));
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public void RequestRoundTrips(string name, ClientRequest request)
    {
        _ = name;
        WireGen.Equal(request, ClientCodec.ReadRequest(ClientCodec.Encode(request)));
    }

    public static TheoryData<string, ClientReply> Replies => new()
    {
        { "default", new ClientReply() },
        { "not leader", new ClientReply { RequestId = 9, Status = ReplyStatus.NotLeader, LeaderId = "n2", LeaderEndpoint = "127.0.0.1:7002" } },
        { "items", new ClientReply { Status = ReplyStatus.Ok, Items = [new KvItem("a", [1], 5), new KvItem("", [], 0)], Version = 5 } },
        { "stale with error", new ClientReply { Stale = true, Error = "", Status = ReplyStatus.Unavailable } },
        {
            "status", new ClientReply
            {
                NodeStatus = new NodeStatus
                {
                    Id = "n1", Role = "Leader", Term = 7, Leader = "n1", CommitIndex = 10, AppliedIndex = 9, LastIndex = 11, SnapshotIndex = 3,
                    Members = [new MemberInfo("n1", "127.0.0.1", 7001, true), new MemberInfo("n4", "::1", 0, false)],
                },
            }
        },
        { "status no leader", new ClientReply { NodeStatus = new NodeStatus { Role = "Follower" } } },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void ReplyRoundTrips(string name, ClientReply reply)
    {
        _ = name;
        WireGen.Equal(reply, ClientCodec.ReadReply(ClientCodec.Encode(reply)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void GeneratedValuesRoundTrip(int seed)
    {
        var r = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            var req = WireGen.Request(r);
            var bytes = ClientCodec.Encode(req);
            WireGen.Equal(req, ClientCodec.ReadRequest(bytes));
            // Any strict prefix is truncated and must be rejected.
            Assert.Throws<WireFormatException>(() => ClientCodec.ReadRequest(bytes.AsSpan(0, r.Next(bytes.Length))));

            var rep = WireGen.Reply(r);
            var rb = ClientCodec.Encode(rep);
            WireGen.Equal(rep, ClientCodec.ReadReply(rb));
            Assert.Throws<WireFormatException>(() => ClientCodec.ReadReply(rb.AsSpan(0, r.Next(rb.Length))));
        }
    }

    public static TheoryData<string, Func<byte[], byte[]>> RequestCorruptions => new()
    {
        // Layout: requestId, clientId, sequence (1-byte varints here), op, consistency, fields, key...
        { "op 0", b => Set(b, 3, 0) },
        { "op 16", b => Set(b, 3, 16) },
        { "consistency 2", b => Set(b, 4, 2) },
        { "unknown field flag", b => Set(b, 5, 0x80) },
        { "trailing byte", b => [.. b, 0] },
        { "invalid utf8 key", b => Set(Set(b, 7, 0xC3), 8, 0x28) },
        { "key length past end", b => Set(b, 6, 0x7F) },
    };

    [Theory]
    [MemberData(nameof(RequestCorruptions))]
    public void CorruptRequestsThrowOnlyWireFormatException(string name, Func<byte[], byte[]> corrupt)
    {
        var good = ClientCodec.Encode(new ClientRequest { RequestId = 1, ClientId = 2, Sequence = 3, Op = ClientOp.Get, Key = "ab" });
        Assert.Throws<WireFormatException>(() => ClientCodec.ReadRequest(corrupt(good)));
        Assert.False(ClientCodec.TryReadRequest(corrupt(good), out _), name);
    }

    [Fact]
    public void ReplyWithUnknownStatusOrImpossibleCountIsRejected()
    {
        var good = ClientCodec.Encode(new ClientReply { RequestId = 1, Status = ReplyStatus.Ok });
        // requestId, status, fields, version, item count
        Assert.Throws<WireFormatException>(() => ClientCodec.ReadReply(Set(good, 1, 12)));
        Assert.Throws<WireFormatException>(() => ClientCodec.ReadReply(Set(good, 2, 0x40)));
        Assert.Throws<WireFormatException>(() => ClientCodec.ReadReply(Set(good, 4, 100)));
    }

    [Theory]
    [InlineData((ClientOp)0, ReadConsistency.Linearizable)]
    [InlineData((ClientOp)16, ReadConsistency.Linearizable)]
    [InlineData(ClientOp.Get, (ReadConsistency)2)]
    public void UndefinedEnumsFailAtTheSender(ClientOp op, ReadConsistency consistency)
    {
        Assert.Throws<WireFormatException>(() => ClientCodec.Encode(new ClientRequest { Op = op, Consistency = consistency }));
        Assert.Throws<WireFormatException>(() => ClientCodec.Encode(new ClientReply { Status = (ReplyStatus)12 }));
    }

    [Fact]
    public void UnpairedSurrogateCannotBeEncoded()
    {
        Assert.Throws<WireFormatException>(() => ClientCodec.Encode(new ClientRequest { Op = ClientOp.Get, Key = "a\uD800b" }));
    }

    private static byte[] Set(byte[] b, int offset, byte value)
    {
        var c = b.ToArray();
        c[offset] = value;
        return c;
    }
}
