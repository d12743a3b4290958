namespace RaftPS.Consensus;

/// <summary>
/// Pending ReadIndex requests of a leader (thesis §6.4), in arrival order. Each waits for a quorum of heartbeat
/// acknowledgements carrying its context; when one is confirmed, it and every earlier request are released (a later
/// heartbeat round proves leadership at an even later time).
/// </summary>
internal sealed class ReadOnlyQueue
{
    private sealed record Request(ulong Index, byte[] Context, string Key)
    {
        public HashSet<ulong> Acks { get; } = new();
    }

    private readonly List<Request> _queue = new();
    private readonly Dictionary<string, Request> _byKey = new();

    private static string KeyOf(byte[] context) => Convert.ToHexString(context);

    public int Count => _queue.Count;

    /// <summary>Context of the newest waiting read, if any: every heartbeat carries it, so a lost round is retried.</summary>
    public byte[]? LastContext => _queue.Count > 0 ? _queue[^1].Context : null;

    public void Add(ulong commitIndex, byte[] context)
    {
        var key = KeyOf(context);
        if (_byKey.ContainsKey(key)) return; // same context already waiting
        var r = new Request(commitIndex, context, key);
        _queue.Add(r);
        _byKey[key] = r;
    }

    /// <summary>Records an ack; returns the read states released when the request gains a quorum.</summary>
    public IReadOnlyList<ReadState> Ack(ulong from, byte[] context, Func<HashSet<ulong>, bool> hasQuorum)
    {
        if (!_byKey.TryGetValue(KeyOf(context), out var req)) return [];
        req.Acks.Add(from);
        if (!hasQuorum(req.Acks)) return [];
        var released = new List<ReadState>();
        int i = 0;
        for (; i < _queue.Count; i++)
        {
            var r = _queue[i];
            released.Add(new ReadState(r.Index, r.Context));
            _byKey.Remove(r.Key);
            if (ReferenceEquals(r, req)) break;
        }
        _queue.RemoveRange(0, i + 1);
        return released;
    }

    public void Clear()
    {
        _queue.Clear();
        _byKey.Clear();
    }
}
