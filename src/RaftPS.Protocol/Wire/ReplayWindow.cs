namespace RaftPS.Protocol.Wire;

/// <summary>
/// Sliding anti-replay window over one sender epoch's counters (the IPsec scheme, RFC 4303 §3.4.3): remembers the
/// highest counter seen and which of the <see cref="Size"/> counters below it arrived. A counter that arrived before,
/// or is older than the window, is a replay. Wide enough for the reordering pipelined appends and chunked snapshots
/// see on a real network. Not thread-safe (its <see cref="ReplayGuard"/> locks).
/// </summary>
public sealed class ReplayWindow
{
    public const int Size = 1024;
    private readonly ulong[] _bits = new ulong[Size / 64];
    private ulong _highest;

    /// <summary>True (and remembered) the first time <paramref name="counter"/> is seen; false for a replay or a counter too old to judge.</summary>
    public bool TryAccept(ulong counter)
    {
        if (counter == 0) return false; // counters start at 1
        if (counter > _highest)
        {
            ulong shift = counter - _highest;
            if (shift >= Size) Array.Clear(_bits);
            else for (ulong c = _highest + 1; c < counter; c++) Clear(c);
            _highest = counter;
            Set(counter);
            return true;
        }
        if (_highest - counter >= Size) return false;
        if (IsSet(counter)) return false;
        Set(counter);
        return true;
    }

    private static (int Word, ulong Mask) Slot(ulong counter) => ((int)(counter / 64 % (Size / 64)), 1UL << (int)(counter % 64));
    private bool IsSet(ulong c) { var (w, m) = Slot(c); return (_bits[w] & m) != 0; }
    private void Set(ulong c) { var (w, m) = Slot(c); _bits[w] |= m; }
    private void Clear(ulong c) { var (w, m) = Slot(c); _bits[w] &= ~m; }
}
