namespace RaftPS.Protocol.Wire;

/// <summary>What happened to one chunk handed to <see cref="Reassembler.Add"/>.</summary>
public enum ReassemblyResult
{
    /// <summary>Stored; the message still misses chunks.</summary>
    Incomplete,
    /// <summary>That was the last missing chunk; the message is returned.</summary>
    Complete,
    /// <summary>Chunk already held, or its message was already completed: ignored.</summary>
    Duplicate,
    /// <summary>Chunk inconsistent with its siblings (count, size): ignored.</summary>
    Malformed,
    /// <summary>Limits hit (message too large or memory budget): the chunk and its partial message are dropped.</summary>
    Overflow,
}

/// <summary>
/// Rebuilds chunked messages keyed by (kind, sender, message id). Memory is bounded: at most
/// <see cref="WireOptions.MaxInProgressMessages"/> partial messages (the least recently active is evicted for a
/// new one), at most <see cref="WireOptions.MaxReassemblyBytes"/> buffered, no message over
/// <see cref="WireOptions.MaxMessageSize"/>. Time is whatever the caller passes as <c>now</c> (milliseconds of any
/// monotonic clock); partials idle longer than <see cref="WireOptions.ReassemblyTimeout"/> are evicted.
/// Thread-safe (one lock; only chunked traffic comes here).
/// </summary>
public sealed class Reassembler
{
    /// <summary>Every chunk but the last must carry at least this much; stops a sender from making us track tiny chunks.</summary>
    public const int MinChunkPayload = 256;
    // Bookkeeping cost charged per stored chunk against the byte budget.
    private const int ChunkOverhead = 64;
    private const int RecentCapacity = 1024;

    private readonly record struct Key(MessageKind Kind, ulong Sender, ulong MessageId);

    private sealed class Partial(ushort count, long now)
    {
        public readonly ushort Count = count;
        public readonly Dictionary<ushort, byte[]> Chunks = new();
        public int ChunkSize;          // size of every non-last chunk, 0 until one is seen
        public int LastChunkLength;    // 0 until the last chunk is seen
        public long Bytes;             // charged against the budget
        public long LastActivity = now;
    }

    private readonly object _lock = new();
    private readonly Dictionary<Key, Partial> _partials = new();
    private readonly HashSet<Key> _recent = new();
    private readonly Queue<Key> _recentOrder = new();
    private readonly int _maxInProgress;
    private readonly int _maxMessageSize;
    private readonly long _maxBytes;
    private readonly long _staleAfterMs;
    private readonly WireCounters? _counters;
    private long _bufferedBytes;
    private long _evictedForSpace;
    private long _evictedStale;

    /// <param name="counters">When given, evicted partial messages are counted there as drops
    /// (<see cref="DropReason.ReassemblyOverflow"/> for space, <see cref="DropReason.ReassemblyTimeout"/> for staleness).</param>
    public Reassembler(WireOptions options, WireCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _counters = counters;
        options.Validate();
        _maxInProgress = options.MaxInProgressMessages;
        _maxMessageSize = options.MaxMessageSize;
        _maxBytes = options.MaxReassemblyBytes;
        _staleAfterMs = (long)Math.Ceiling(options.ReassemblyTimeout.TotalMilliseconds);
    }

    public int InProgress { get { lock (_lock) return _partials.Count; } }
    public long BufferedBytes { get { lock (_lock) return _bufferedBytes; } }

    /// <summary>Partial messages evicted to make room for others.</summary>
    public long EvictedForSpace => Interlocked.Read(ref _evictedForSpace);
    /// <summary>Partial messages evicted because no chunk came within the timeout.</summary>
    public long EvictedStale => Interlocked.Read(ref _evictedStale);

    /// <summary>Adds one chunk of a chunked message (header.ChunkCount &gt; 1).</summary>
    /// <param name="message">The complete message when the result is <see cref="ReassemblyResult.Complete"/>.</param>
    public ReassemblyResult Add(in DatagramHeader header, ReadOnlySpan<byte> chunk, long now, out byte[]? message)
    {
        message = null;
        if (header.ChunkCount < 2 || header.ChunkIndex >= header.ChunkCount || chunk.Length != header.PayloadLength)
            return ReassemblyResult.Malformed;
        bool isLast = header.ChunkIndex == header.ChunkCount - 1;
        if (chunk.Length == 0 || (!isLast && chunk.Length < MinChunkPayload)) return ReassemblyResult.Malformed;

        var key = new Key(header.Kind, header.SenderId, header.MessageId);
        lock (_lock)
        {
            if (_recent.Contains(key)) return ReassemblyResult.Duplicate;
            if (!_partials.TryGetValue(key, out var p))
            {
                // Even with minimal chunks the message could not fit: refuse before tracking anything.
                if ((long)(header.ChunkCount - 1) * MinChunkPayload + (isLast ? chunk.Length : 1) > _maxMessageSize)
                    return ReassemblyResult.Overflow;
                if (_partials.Count >= _maxInProgress) EvictOldest(except: null);
                p = new Partial(header.ChunkCount, now);
                _partials.Add(key, p);
            }
            else if (p.Count != header.ChunkCount)
            {
                return ReassemblyResult.Malformed;
            }
            if (p.Chunks.ContainsKey(header.ChunkIndex)) return ReassemblyResult.Duplicate;

            // All non-last chunks have one size, the last is no larger: that is how DatagramFramer cuts.
            if (isLast)
            {
                if (p.ChunkSize != 0 && chunk.Length > p.ChunkSize) return ReassemblyResult.Malformed;
            }
            else if (p.ChunkSize == 0)
            {
                if (p.LastChunkLength > chunk.Length) return ReassemblyResult.Malformed;
                if ((long)(p.Count - 1) * chunk.Length + Math.Max(1, p.LastChunkLength) > _maxMessageSize)
                {
                    Remove(key, p);
                    return ReassemblyResult.Overflow;
                }
            }
            else if (chunk.Length != p.ChunkSize)
            {
                return ReassemblyResult.Malformed;
            }

            long cost = chunk.Length + ChunkOverhead;
            while (_bufferedBytes + cost > _maxBytes && _partials.Count > 1) EvictOldest(except: p);
            if (_bufferedBytes + cost > _maxBytes)
            {
                Remove(key, p);
                return ReassemblyResult.Overflow;
            }

            if (isLast) p.LastChunkLength = chunk.Length;
            else p.ChunkSize = chunk.Length;
            p.Chunks.Add(header.ChunkIndex, chunk.ToArray());
            p.Bytes += cost;
            _bufferedBytes += cost;
            p.LastActivity = now;

            if (p.Chunks.Count < p.Count) return ReassemblyResult.Incomplete;

            long total = (long)(p.Count - 1) * p.ChunkSize + p.LastChunkLength;
            Remove(key, p);
            Remember(key);
            var result = new byte[total];
            for (ushort i = 0; i < p.Count; i++)
                p.Chunks[i].CopyTo(result, (long)i * p.ChunkSize);
            message = result;
            return ReassemblyResult.Complete;
        }
    }

    /// <summary>Drops partial messages idle for longer than the reassembly timeout. Returns how many.</summary>
    public int EvictStale(long now)
    {
        lock (_lock)
        {
            List<Key>? stale = null;
            foreach (var (key, p) in _partials)
            {
                if (now - p.LastActivity > _staleAfterMs) (stale ??= []).Add(key);
            }
            if (stale is null) return 0;
            foreach (var key in stale) Remove(key, _partials[key]);
            Interlocked.Add(ref _evictedStale, stale.Count);
            _counters?.CountDrop(DropReason.ReassemblyTimeout, stale.Count);
            return stale.Count;
        }
    }

    private void EvictOldest(Partial? except)
    {
        Key oldestKey = default;
        Partial? oldest = null;
        foreach (var (key, p) in _partials)
        {
            if (ReferenceEquals(p, except)) continue;
            if (oldest is null || p.LastActivity < oldest.LastActivity)
            {
                oldest = p;
                oldestKey = key;
            }
        }
        if (oldest is null) return;
        Remove(oldestKey, oldest);
        Interlocked.Increment(ref _evictedForSpace);
        _counters?.CountDrop(DropReason.ReassemblyOverflow);
    }

    private void Remove(Key key, Partial p)
    {
        _partials.Remove(key);
        _bufferedBytes -= p.Bytes;
    }

    // Completed keys are remembered so duplicated chunks arriving late do not rebuild and redeliver the message.
    private void Remember(Key key)
    {
        if (!_recent.Add(key)) return;
        _recentOrder.Enqueue(key);
        if (_recentOrder.Count > RecentCapacity) _recent.Remove(_recentOrder.Dequeue());
    }
}
