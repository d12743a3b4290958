using System.Buffers;

namespace RaftPS.Protocol.Wire;

/// <summary>Receives each framed datagram; the span is only valid during the call (copy it to keep it).</summary>
public delegate void DatagramSink<in TState>(TState state, ReadOnlySpan<byte> datagram);

/// <summary>
/// Turns one message payload into one or more datagrams for a given sender. Thread-safe: message ids come from an
/// atomic counter and all other state is immutable.
/// </summary>
public sealed class DatagramFramer
{
    private readonly byte[]? _key;
    private readonly DatagramFlags _flags;
    private long _nextMessageId;

    /// <param name="firstMessageId">
    /// Defaults to a random value so that a restarted sender does not reuse ids that peers' reassemblers still
    /// remember (its chunks would be mixed with, or suppressed as duplicates of, the old incarnation's).
    /// </param>
    public DatagramFramer(WireOptions options, ulong clusterId, ulong senderId, ulong? firstMessageId = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validate();
        ClusterId = clusterId;
        SenderId = senderId;
        _key = options.IsAuthenticated ? options.ClusterKey!.ToArray() : null;
        _flags = _key is null ? DatagramFlags.None : DatagramFlags.Authenticated;
        _nextMessageId = (long)(firstMessageId ?? (ulong)Random.Shared.NextInt64());
    }

    public WireOptions Options { get; }
    public ulong ClusterId { get; }
    public ulong SenderId { get; }
    public int MaxChunkPayload => Options.MaxChunkPayload;

    public ulong NextMessageId() => (ulong)Interlocked.Increment(ref _nextMessageId);

    /// <summary>Number of datagrams a payload of <paramref name="payloadLength"/> bytes needs.</summary>
    public int ChunkCountFor(int payloadLength) => payloadLength <= MaxChunkPayload ? 1 : (int)(((long)payloadLength + MaxChunkPayload - 1) / MaxChunkPayload);

    /// <summary>
    /// Frames the payload written into <paramref name="payload"/>. A payload that fits one datagram is framed
    /// in place inside the writer's buffer (header in its headroom, tag in its tailroom); larger ones are chunked
    /// through a pooled scratch buffer. The writer's payload stays intact.
    /// </summary>
    /// <returns>The number of datagrams passed to <paramref name="sink"/>.</returns>
    /// <exception cref="WireFormatException">The payload exceeds <see cref="WireOptions.MaxMessageSize"/>.</exception>
    public int Frame<TState>(MessageKind kind, WireWriter payload, TState state, DatagramSink<TState> sink)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(sink);
        int length = payload.Length;
        if (length > MaxChunkPayload) return FrameChunked(kind, payload.WrittenSpan, state, sink);

        byte[] buffer = payload.RawBuffer;
        var header = new DatagramHeader(kind, _flags, ClusterId, SenderId, NextMessageId(), 0, 1, length);
        Datagram.WriteHeader(buffer, header);
        int total = WireWriter.Headroom + length;
        if (_key is not null)
        {
            Datagram.ComputeTag(_key, buffer.AsSpan(0, total), buffer.AsSpan(total, Datagram.TagSize));
            total += Datagram.TagSize;
        }
        sink(state, buffer.AsSpan(0, total));
        return 1;
    }

    /// <summary>Frames an arbitrary payload span (always copies into a scratch buffer).</summary>
    public int Frame<TState>(MessageKind kind, ReadOnlySpan<byte> payload, TState state, DatagramSink<TState> sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        return FrameChunked(kind, payload, state, sink);
    }

    /// <summary>Convenience: each datagram as its own array.</summary>
    public List<byte[]> FrameToArrays(MessageKind kind, WireWriter payload)
    {
        var list = new List<byte[]>(1);
        Frame(kind, payload, list, static (l, d) => l.Add(d.ToArray()));
        return list;
    }

    private int FrameChunked<TState>(MessageKind kind, ReadOnlySpan<byte> payload, TState state, DatagramSink<TState> sink)
    {
        if (payload.Length > Options.MaxMessageSize)
            throw new WireFormatException($"message of {payload.Length} bytes exceeds the maximum of {Options.MaxMessageSize}");
        int chunkCount = ChunkCountFor(payload.Length);
        if (chunkCount > ushort.MaxValue)
            throw new WireFormatException($"message of {payload.Length} bytes needs more than {ushort.MaxValue} datagrams");

        ulong messageId = NextMessageId();
        byte[] scratch = ArrayPool<byte>.Shared.Rent(Options.MaxDatagramSize);
        try
        {
            int chunkSize = MaxChunkPayload;
            for (int i = 0; i < chunkCount; i++)
            {
                int offset = i * chunkSize;
                int length = Math.Min(chunkSize, payload.Length - offset);
                var header = new DatagramHeader(kind, _flags, ClusterId, SenderId, messageId, (ushort)i, (ushort)chunkCount, length);
                Datagram.WriteHeader(scratch, header);
                payload.Slice(offset, length).CopyTo(scratch.AsSpan(Datagram.HeaderSize));
                int total = Datagram.HeaderSize + length;
                if (_key is not null)
                {
                    Datagram.ComputeTag(_key, scratch.AsSpan(0, total), scratch.AsSpan(total, Datagram.TagSize));
                    total += Datagram.TagSize;
                }
                sink(state, scratch.AsSpan(0, total));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
        return chunkCount;
    }
}
