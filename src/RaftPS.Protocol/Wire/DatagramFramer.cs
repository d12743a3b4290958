using System.Buffers;

namespace RaftPS.Protocol.Wire;

/// <summary>Receives each framed datagram; the span is only valid during the call (copy it to keep it).</summary>
public delegate void DatagramSink<in TState>(TState state, ReadOnlySpan<byte> datagram);

/// <summary>
/// Turns one message payload into one or more datagrams for a given sender, sealed (AES-256-GCM) under a key or in
/// plaintext. Thread-safe: message ids and nonces come from atomic counters, the keyring is swapped atomically.
/// </summary>
public sealed class DatagramFramer
{
    private readonly NonceSource _nonces = new();
    private volatile Keyring _keys;
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
        _keys = options.Keys ?? Keyring.Empty;
        _nextMessageId = (long)(firstMessageId ?? (ulong)Random.Shared.NextInt64());
    }

    public WireOptions Options { get; }
    public ulong ClusterId { get; }
    public ulong SenderId { get; }
    public int MaxChunkPayload => Options.MaxChunkPayload;

    /// <summary>The keys the default send key of each kind comes from; assign a new keyring to rotate.</summary>
    public Keyring Keys
    {
        get => _keys;
        set => _keys = value ?? throw new ArgumentNullException(nameof(value));
    }

    public ulong NextMessageId() => (ulong)Interlocked.Increment(ref _nextMessageId);

    /// <summary>
    /// The key a datagram of <paramref name="kind"/> is sealed with when none is given: the peer key for Raft messages,
    /// the admin key (else the client key) for requests and replies. Null means plaintext.
    /// </summary>
    public WireKey? DefaultKey(MessageKind kind)
    {
        var keys = _keys;
        return kind is MessageKind.Raft or MessageKind.Removed
            ? keys.Current(CredentialRole.Peer)
            : keys.Current(CredentialRole.Admin) ?? keys.Current(CredentialRole.Client);
    }

    /// <summary>Number of datagrams a payload of <paramref name="payloadLength"/> bytes needs.</summary>
    public int ChunkCountFor(int payloadLength) => payloadLength <= MaxChunkPayload ? 1 : (int)(((long)payloadLength + MaxChunkPayload - 1) / MaxChunkPayload);

    /// <summary>Frames under <see cref="DefaultKey"/>.</summary>
    public int Frame<TState>(MessageKind kind, WireWriter payload, TState state, DatagramSink<TState> sink) =>
        Frame(kind, payload, DefaultKey(kind), state, sink);

    /// <summary>
    /// Frames the payload written into <paramref name="payload"/>, sealed under <paramref name="key"/> (null: plaintext).
    /// A payload that fits one datagram is framed in place inside the writer's buffer (header in its headroom, tag in its
    /// tailroom; sealing encrypts the payload there, so the writer's content is ciphertext afterwards); larger ones are
    /// chunked through a pooled scratch buffer and leave the writer intact.
    /// </summary>
    /// <returns>The number of datagrams passed to <paramref name="sink"/>.</returns>
    /// <exception cref="WireFormatException">The payload exceeds <see cref="WireOptions.MaxMessageSize"/>.</exception>
    public int Frame<TState>(MessageKind kind, WireWriter payload, WireKey? key, TState state, DatagramSink<TState> sink)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(sink);
        int length = payload.Length;
        if (length > MaxChunkPayload) return FrameChunked(kind, payload.WrittenSpan, key, state, sink);

        byte[] buffer = payload.RawBuffer;
        int total = WriteDatagram(buffer, kind, key, NextMessageId(), 0, 1, length);
        sink(state, buffer.AsSpan(0, total));
        return 1;
    }

    /// <summary>Frames an arbitrary payload span under <see cref="DefaultKey"/> (always copies into a scratch buffer).</summary>
    public int Frame<TState>(MessageKind kind, ReadOnlySpan<byte> payload, TState state, DatagramSink<TState> sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        return FrameChunked(kind, payload, DefaultKey(kind), state, sink);
    }

    /// <summary>Convenience: each datagram as its own array.</summary>
    public List<byte[]> FrameToArrays(MessageKind kind, WireWriter payload)
    {
        var list = new List<byte[]>(1);
        Frame(kind, payload, list, static (l, d) => l.Add(d.ToArray()));
        return list;
    }

    private int FrameChunked<TState>(MessageKind kind, ReadOnlySpan<byte> payload, WireKey? key, TState state, DatagramSink<TState> sink)
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
                payload.Slice(offset, length).CopyTo(scratch.AsSpan(Datagram.HeaderSize));
                int total = WriteDatagram(scratch, kind, key, messageId, (ushort)i, (ushort)chunkCount, length);
                sink(state, scratch.AsSpan(0, total));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
        return chunkCount;
    }

    // Header + (sealed) encryption of the payload already at [HeaderSize, HeaderSize + length); returns the datagram length.
    private int WriteDatagram(Span<byte> buffer, MessageKind kind, WireKey? key, ulong messageId, ushort index, ushort count, int length)
    {
        if (key is null)
        {
            Datagram.WriteHeader(buffer, new DatagramHeader(kind, DatagramFlags.None, ClusterId, SenderId, messageId, index, count, length));
            return Datagram.HeaderSize + length;
        }
        Span<byte> nonce = stackalloc byte[NonceSource.Size];
        _nonces.Next(nonce);
        var header = new DatagramHeader(kind, DatagramFlags.Sealed, ClusterId, SenderId, messageId, index, count, length)
        {
            KeyId = key.KeyId,
            Epoch = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(nonce),
            Counter = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(nonce[8..]),
        };
        Datagram.WriteHeader(buffer, header);
        Datagram.Seal(key, kind, buffer, length);
        return Datagram.HeaderSize + length + Datagram.TagSize;
    }
}
