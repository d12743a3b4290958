using RaftPS.Node.SnapshotStreaming;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.SnapshotStreaming;

public class SnapshotStreamCodecTests
{
    private static readonly SnapshotChunk Sample = new(0xABCDEF, 7, 1234, 6, 10_000, 40, 0xDEADBEEF, 4096, 8192);

    [Fact]
    public void A_chunk_round_trips_with_its_data()
    {
        var data = Enumerable.Range(0, Sample.DataLength).Select(i => (byte)i).ToArray();
        var w = new WireWriter();
        SnapshotStreamCodec.WriteChunk(w, Sample, data);
        var back = SnapshotStreamCodec.ReadChunk(w.WrittenSpan, out var read);
        Assert.Equal(Sample, back);
        Assert.Equal(data, read.ToArray());
        Assert.Equal(10_000 - 8192, back.DataLength);
        Assert.Equal(3, back.ChunkCount);
    }

    [Fact]
    public void An_ack_round_trips()
    {
        var ack = new SnapshotAck(42, 123_456, 1 << 20, SnapshotAckStatus.Corrupt);
        var w = new WireWriter();
        SnapshotStreamCodec.WriteAck(w, ack);
        Assert.Equal(ack, SnapshotStreamCodec.ReadAck(w.WrittenSpan));
    }

    public static TheoryData<string, SnapshotChunk> BadChunks => new()
    {
        { "offset off a chunk boundary", Sample with { Offset = 100 } },
        { "offset past the end", Sample with { Offset = 12_288 } },
        { "zero chunk size", Sample with { ChunkSize = 0 } },
        { "envelope longer than the stream", Sample with { EnvelopeLength = 10_001 } },
        { "snapshot index 0", Sample with { SnapshotIndex = 0 } },
        { "empty stream", Sample with { TotalLength = 0, Offset = 0 } },
    };

    [Theory]
    [MemberData(nameof(BadChunks))]
    public void Inconsistent_chunks_are_rejected(string why, SnapshotChunk bad)
    {
        var bytes = new byte[SnapshotStreamCodec.ChunkHeaderSize + Sample.DataLength];
        SnapshotStreamCodec.WriteChunkHeader(bytes, bad);
        Assert.Throws<WireFormatException>(() => SnapshotStreamCodec.ReadChunk(bytes, out _));
        _ = why;
    }

    [Fact]
    public void A_chunk_whose_data_length_disagrees_with_its_offset_is_rejected()
    {
        var w = new WireWriter();
        SnapshotStreamCodec.WriteChunk(w, Sample, new byte[Sample.DataLength]);
        var bytes = w.WrittenSpan[..^1].ToArray();
        Assert.Throws<WireFormatException>(() => SnapshotStreamCodec.ReadChunk(bytes, out _));
        Assert.Throws<WireFormatException>(() => SnapshotStreamCodec.ReadAck(new byte[5]));
    }
}
