using RaftPS.Consensus;
using RaftPS.Node.Tests.Wire;
using RaftPS.Node.Transport;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Transport;

public class RaftCodecTests
{
    public static TheoryData<string, Message> Messages => new()
    {
        { "empty", new Message() },
        { "vote", new Message { Type = MessageType.Vote, From = 1, To = 2, Term = 5, LogTerm = 4, Index = 10 } },
        { "vote transfer", new Message { Type = MessageType.Vote, From = 1, To = 2, Term = 6, Context = "transfer"u8.ToArray() } },
        { "reject with hint", new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = 5, Index = 9, Reject = true, RejectHint = 7, LogTerm = 3 } },
        {
            "append batch", new Message
            {
                Type = MessageType.Append, From = 1, To = 3, Term = 2, LogTerm = 2, Index = 100, Commit = 99,
                Entries = [new Entry(2, 101, EntryType.Noop, []), new Entry(2, 102, EntryType.Normal, [1, 2, 3]), new Entry(2, 103, EntryType.ConfChange, [9])],
            }
        },
        { "heartbeat with empty context", new Message { Type = MessageType.Heartbeat, From = 1, To = 2, Context = [] } },
        {
            "snapshot", new Message
            {
                Type = MessageType.InstallSnapshot, From = 1, To = 4, Term = 9,
                Snapshot = new Snapshot(new SnapshotMetadata(500, 8, new ConfState([1, 2, 3], [4], [1, 2, 5], [6], true)), new byte[10_000]),
            }
        },
        { "snapshot empty conf", new Message { Type = MessageType.InstallSnapshot, Snapshot = new Snapshot(new SnapshotMetadata(1, 1, ConfState.Empty), []) } },
        { "max values", new Message { Type = MessageType.TimeoutNow, From = ulong.MaxValue, To = ulong.MaxValue, Term = ulong.MaxValue, Commit = ulong.MaxValue } },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void MessageRoundTrips(string name, Message m)
    {
        _ = name;
        RaftGen.Equal(m, RaftCodec.Read(RaftCodec.Encode(m)));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void GeneratedMessagesRoundTripAndPrefixesAreRejected(int seed)
    {
        var r = new Random(seed);
        for (int i = 0; i < 2000; i++)
        {
            var m = RaftGen.Message(r);
            var bytes = RaftCodec.Encode(m);
            RaftGen.Equal(m, RaftCodec.Read(bytes));
            Assert.Throws<WireFormatException>(() => RaftCodec.Read(bytes.AsSpan(0, r.Next(bytes.Length))));
            Assert.Throws<WireFormatException>(() => RaftCodec.Read([.. bytes, 0]));
        }
    }

    [Fact]
    public void EncodingIntoAReusedWriterMatchesAFreshOne()
    {
        var r = new Random(5);
        var w = WireWriter.Rent();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                var m = RaftGen.Message(r);
                w.Reset();
                RaftCodec.Write(w, m);
                Assert.Equal(RaftCodec.Encode(m), w.WrittenSpan.ToArray());
            }
        }
        finally
        {
            WireWriter.Return(w);
        }
    }

    public static TheoryData<string, byte[]> Invalid => new()
    {
        { "empty", [] },
        { "unknown type 5", [5, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "unknown type 20", [20, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "unknown field flag", [14, 8, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "entry count beyond data", [14, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 1, 0, 0] },
        { "entry type 3", [14, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 3, 0] },
        { "snapshot flag without snapshot", [18, 4, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "bool not 0/1", [18, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 2, 0] },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void InvalidPayloadsThrowWireFormatException(string name, byte[] payload)
    {
        Assert.Throws<WireFormatException>(() => RaftCodec.Read(payload));
        Assert.False(RaftCodec.TryRead(payload, out _), name);
    }

    [Fact]
    public void FuzzedPayloadsThrowOnlyWireFormatException()
    {
        var r = new Random(99);
        var seeds = Enumerable.Range(0, 100).Select(_ => RaftCodec.Encode(RaftGen.Message(r, maxData: 16))).ToList();
        int decoded = 0;
        for (int i = 0; i < 100_000; i++)
        {
            byte[] p = i % 4 == 0 ? WireGen.Bytes(r, 120) : WireFuzzTests.Mutate(r, seeds[r.Next(seeds.Count)]);
            try
            {
                RaftCodec.Read(p);
                decoded++;
            }
            catch (WireFormatException) { }
        }
        Assert.True(decoded > 0);
    }
}
