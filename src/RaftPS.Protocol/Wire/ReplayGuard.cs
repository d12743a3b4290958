namespace RaftPS.Protocol.Wire;

/// <summary>
/// Replay windows per (role, sender, epoch) for sealed datagrams, checked only after the tag verified (so forged
/// datagrams cannot move a window). Memory is bounded: peers (members only, authenticated) are kept apart from
/// clients, so a flood of client identities cannot evict a peer's window; each table keeps two generations and
/// drops the older one when the newer fills. A window forgotten that way (a peer epoch from hundreds of restarts ago,
/// a client idle through thousands of newer ones) could accept one more copy of an authentic old datagram; Raft
/// tolerates stale duplicates of genuine messages and client writes are applied once per session sequence, so that
/// costs at most a repeated answer. Thread-safe.
/// </summary>
public sealed class ReplayGuard
{
    public const int MaxClientWindows = 16_384;
    public const int MaxPeerWindows = 1024;

    private readonly Generations _peers = new(MaxPeerWindows);
    private readonly Generations _clients = new(MaxClientWindows);
    private long _replays;

    /// <summary>Replayed (or too old) datagrams seen.</summary>
    public long Replays => Interlocked.Read(ref _replays);

    /// <summary>True when this (sender, epoch, counter) was not seen before under a key of <paramref name="role"/>.</summary>
    public bool TryAccept(CredentialRole role, ulong sender, ulong epoch, uint counter)
    {
        var table = role == CredentialRole.Peer ? _peers : _clients;
        bool ok;
        lock (table) ok = table.Get((role, sender, epoch)).TryAccept(counter);
        if (!ok) Interlocked.Increment(ref _replays);
        return ok;
    }

    private sealed class Generations(int capacity)
    {
        private Dictionary<(CredentialRole, ulong, ulong), ReplayWindow> _current = new();
        private Dictionary<(CredentialRole, ulong, ulong), ReplayWindow> _previous = new();

        public ReplayWindow Get((CredentialRole, ulong, ulong) key)
        {
            if (_current.TryGetValue(key, out var w)) return w;
            if (_previous.Remove(key, out w)) { Add(key, w); return w; }
            w = new ReplayWindow();
            Add(key, w);
            return w;
        }

        private void Add((CredentialRole, ulong, ulong) key, ReplayWindow w)
        {
            if (_current.Count >= capacity / 2)
            {
                _previous = _current;
                _current = new();
            }
            _current[key] = w;
        }
    }
}
