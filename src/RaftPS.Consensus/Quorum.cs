namespace RaftPS.Consensus;

/// <summary>Outcome of counting votes.</summary>
public enum VoteResult
{
    Pending,
    Lost,
    Won,
}

/// <summary>
/// A set of voters deciding by simple majority (paper §5.2: a candidate needs votes from a majority of the full cluster;
/// §5.3: an entry is committed once stored on a majority). An empty set is treated as agreeing to everything so that a
/// joint configuration with an empty outgoing half reduces to the incoming half.
/// </summary>
public sealed class MajorityConfig
{
    private readonly ulong[] _ids;

    public MajorityConfig(IEnumerable<ulong> ids)
    {
        _ids = ids.Distinct().Order().ToArray();
        if (_ids.Contains(0UL)) throw new ArgumentException("node id 0 is reserved", nameof(ids));
    }

    public static readonly MajorityConfig Empty = new([]);

    public IReadOnlyList<ulong> Ids => _ids;
    public int Count => _ids.Length;
    public bool Contains(ulong id) => Array.BinarySearch(_ids, id) >= 0;

    /// <summary>Size of a majority: ⌊n/2⌋+1 — 2 of 3, 3 of 5, 3 of 4 (never 2 of 4 or 5).</summary>
    public int QuorumSize => _ids.Length / 2 + 1;

    /// <summary>
    /// The largest index acknowledged by a majority. <paramref name="acked"/> returns the highest index a voter is known to
    /// have durably stored, or null if unknown (counts as 0).
    /// </summary>
    public ulong CommittedIndex(Func<ulong, ulong?> acked)
    {
        if (_ids.Length == 0) return ulong.MaxValue; // see class remarks: an empty half never constrains
        Span<ulong> indexes = _ids.Length <= 16 ? stackalloc ulong[_ids.Length] : new ulong[_ids.Length];
        for (int i = 0; i < _ids.Length; i++) indexes[i] = acked(_ids[i]) ?? 0;
        indexes.Sort();
        // Sorted ascending; the element at n - quorum is held by at least a quorum of voters.
        return indexes[_ids.Length - QuorumSize];
    }

    public VoteResult Vote(Func<ulong, bool?> votes)
    {
        if (_ids.Length == 0) return VoteResult.Won;
        int yes = 0, no = 0;
        foreach (var id in _ids)
        {
            switch (votes(id))
            {
                case true: yes++; break;
                case false: no++; break;
            }
        }
        if (yes >= QuorumSize) return VoteResult.Won;
        if (no > _ids.Length - QuorumSize) return VoteResult.Lost;
        return VoteResult.Pending;
    }

    public override string ToString() => "(" + string.Join(" ", _ids) + ")";
}

/// <summary>
/// Voters of a possibly joint configuration. While joint (C_old,new), elections and commitment need separate majorities
/// of both halves (paper §6).
/// </summary>
public sealed class JointConfig
{
    public JointConfig(MajorityConfig incoming, MajorityConfig? outgoing = null)
    {
        Incoming = incoming;
        Outgoing = outgoing ?? MajorityConfig.Empty;
    }

    public MajorityConfig Incoming { get; }
    public MajorityConfig Outgoing { get; }
    public bool IsJoint => Outgoing.Count > 0;

    public IEnumerable<ulong> Ids => Incoming.Ids.Union(Outgoing.Ids);
    public bool Contains(ulong id) => Incoming.Contains(id) || Outgoing.Contains(id);

    public ulong CommittedIndex(Func<ulong, ulong?> acked)
    {
        var a = Incoming.CommittedIndex(acked);
        var b = Outgoing.CommittedIndex(acked);
        var idx = Math.Min(a, b);
        return idx == ulong.MaxValue ? 0 : idx;
    }

    public VoteResult Vote(Func<ulong, bool?> votes)
    {
        var a = Incoming.Vote(votes);
        var b = Outgoing.Vote(votes);
        if (a == b) return a;
        if (a == VoteResult.Lost || b == VoteResult.Lost) return VoteResult.Lost;
        return VoteResult.Pending;
    }

    public override string ToString() => IsJoint ? $"{Incoming}&&{Outgoing}" : Incoming.ToString();
}
