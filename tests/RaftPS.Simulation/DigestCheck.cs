using System.IO.Hashing;

namespace RaftPS.Simulation;

/// <summary>
/// Replicas cannot drift: every replica's state machine must hash the same at the same applied index. A hash of the
/// whole state (XxHash128 over its canonical serialization) is taken every <see cref="Every"/> applied indexes and at
/// every snapshot install; the first replica to reach an index sets the reference, and any other that differs there is
/// a violation. It catches what per-entry checks miss: an entry applied differently (local settings, clocks, hash
/// order) or a snapshot that does not hold the state it claims.
/// </summary>
internal sealed class DigestCheck(List<string> violations)
{
    /// <summary>Hash this often: often enough to localise a drift, rarely enough to keep 10,000 seeds cheap.</summary>
    public const ulong Every = 8;

    private readonly Dictionary<ulong, (ulong Node, UInt128 Hash)> _reference = [];

    /// <summary>After a replica applied an entry.</summary>
    public void OnApplied(Simulation.SimNode n)
    {
        if (n.Kv.Applied % Every == 0) Compare(n, "applying");
    }

    /// <summary>After a replica installed a snapshot or restarted from one.</summary>
    public void OnSnapshot(Simulation.SimNode n)
    {
        if (n.Kv.Applied > 0) Compare(n, "installing a snapshot at");
    }

    private void Compare(Simulation.SimNode n, string how)
    {
        ulong index = n.Kv.Applied;
        UInt128 hash = XxHash128.HashToUInt128(n.Kv.Serialize());
        if (!_reference.TryGetValue(index, out var seen))
        {
            _reference[index] = (n.Id, hash);
        }
        else if (seen.Hash != hash && violations.Count < 20)
        {
            violations.Add($"replica drift: n{n.Id} after {how} index {index} has state digest {hash:x32}, n{seen.Node} had {seen.Hash:x32}");
        }
    }
}
