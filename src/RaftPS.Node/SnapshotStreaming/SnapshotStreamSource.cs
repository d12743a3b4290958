using RaftPS.Consensus;
using RaftPS.Node.Transport;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// The bytes of one snapshot stream: the InstallSnapshot message encoded without its data (the "envelope", so the
/// follower rebuilds exactly the message the core sent, metadata and configuration included), then the snapshot data.
/// Reads straight from the snapshot's array, which the core holds anyway: the leader makes no copy of the state.
/// </summary>
public sealed class SnapshotStreamSource
{
    private readonly byte[] _envelope;
    private readonly byte[] _data;
    private uint? _checksum;

    public SnapshotStreamSource(Message installSnapshot)
    {
        ArgumentNullException.ThrowIfNull(installSnapshot);
        if (installSnapshot.Type != MessageType.InstallSnapshot || installSnapshot.Snapshot is not { } snapshot)
            throw new ArgumentException("not an InstallSnapshot message", nameof(installSnapshot));
        Message = installSnapshot;
        _data = snapshot.Data;
        _envelope = RaftCodec.Encode(installSnapshot with { Snapshot = snapshot with { Data = [] } });
        if (Length > SnapshotStreamCodec.MaxStreamLength)
            throw new ArgumentException($"snapshot of {_data.LongLength} bytes is larger than a stream can carry", nameof(installSnapshot));
    }

    public Message Message { get; }
    public int EnvelopeLength => _envelope.Length;
    public long Length => (long)_envelope.Length + _data.LongLength;

    /// <summary>CRC-32C of the whole stream, computed on first use (off the event loop: the sender's thread asks for it).</summary>
    public uint Checksum => _checksum ??= Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.Seed, _envelope), _data));

    /// <summary>Copies the stream bytes at <paramref name="offset"/> into <paramref name="destination"/> (which must fit inside the stream).</summary>
    public void Read(Span<byte> destination, long offset)
    {
        if (offset < 0 || offset + destination.Length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        if (offset < _envelope.Length)
        {
            int n = (int)Math.Min(destination.Length, _envelope.Length - offset);
            _envelope.AsSpan((int)offset, n).CopyTo(destination);
            destination = destination[n..];
            offset += n;
        }
        if (!destination.IsEmpty) _data.AsSpan((int)(offset - _envelope.Length), destination.Length).CopyTo(destination);
    }
}
