using System.IO.Hashing;
using RaftPS.Consensus;

namespace RaftPS.Simulation;

/// <summary>
/// The safety properties of Raft (paper Fig. 3), checked incrementally so they can run after every step:
/// election safety, leader append-only, log matching, leader completeness and state machine safety.
/// </summary>
internal sealed class Invariants(List<string> violations)
{
    // term -> the one leader of that term
    private readonly Dictionary<ulong, ulong> _leaders = new();
    // (index, term) -> (term of the previous entry, content hash): two entries with the same index and term must agree
    // on content and on their predecessor, which by induction gives log matching.
    private readonly Dictionary<(ulong Index, ulong Term), (ulong PrevTerm, ulong Hash)> _entries = new();
    // index -> (term, hash) of the entry committed/applied there, and the applier's current term when first applied: the
    // entry was committed in that term or earlier, so every leader of a later term must hold it.
    private readonly Dictionary<ulong, (ulong Term, ulong Hash)> _applied = new();
    private readonly Dictionary<ulong, ulong> _knownCommittedInTerm = new();
    private ulong _maxApplied;
    // per node: while leader in a term, its last (index, term) seen
    private readonly Dictionary<ulong, (ulong Term, ulong LastIndex, ulong LastTerm)> _leaderLogs = new();

    private void Fail(string what) { if (violations.Count < 20) violations.Add(what); }

    private static ulong Hash(Entry e) => XxHash64.HashToUInt64(e.Data) ^ ((ulong)e.Type << 56);

    public void OnRestart(Simulation.SimNode n) => _leaderLogs.Remove(n.Id);

    public void CheckStep(Simulation.SimNode[] nodes)
    {
        foreach (var n in nodes)
        {
            if (!n.Up) continue;
            var r = n.Raft!;
            if (r.Role != Role.Leader)
            {
                _leaderLogs.Remove(n.Id);
                continue;
            }
            // Election safety: at most one leader per term.
            if (_leaders.TryGetValue(r.Term, out var other))
            {
                if (other != n.Id) Fail($"election safety: n{other} and n{n.Id} both leaders in term {r.Term}");
            }
            else
            {
                _leaders[r.Term] = n.Id;
                CheckLeaderCompleteness(n);
            }
            // Leader append-only: while leader in a term, never shrink or rewrite its log.
            var last = r.Log.LastIndex;
            if (_leaderLogs.TryGetValue(n.Id, out var prev) && prev.Term == r.Term)
            {
                if (last < prev.LastIndex) Fail($"leader append-only: n{n.Id} log shrank from {prev.LastIndex} to {last} in term {r.Term}");
                else if (r.Log.Term(prev.LastIndex) is { } t && t != prev.LastTerm)
                    Fail($"leader append-only: n{n.Id} rewrote index {prev.LastIndex} in term {r.Term}");
            }
            _leaderLogs[n.Id] = (r.Term, last, r.Log.LastTerm);
        }
    }

    /// <summary>
    /// Leader completeness (paper §5.4): an entry committed in term T is in the log of every leader of a term after T.
    /// Entries below the leader's snapshot are covered by it (a snapshot holds only committed state).
    /// </summary>
    private void CheckLeaderCompleteness(Simulation.SimNode n)
    {
        var log = n.Raft!.Log;
        var term = n.Raft.Term;
        for (var i = Math.Max(log.FirstIndex, 1); i <= _maxApplied; i++)
        {
            if (!_applied.TryGetValue(i, out var c) || _knownCommittedInTerm[i] >= term) continue;
            if (i > log.LastIndex || log.Term(i) != c.Term || Hash(log.At(i)) != c.Hash)
            {
                Fail($"leader completeness: n{n.Id} leader of term {term} lacks entry {i}@{c.Term} committed by term {_knownCommittedInTerm[i]}");
                return;
            }
        }
    }

    /// <summary>Log matching, checked on everything a node makes durable.</summary>
    public void OnPersisted(Simulation.SimNode n, IReadOnlyList<Entry> entries)
    {
        var log = n.Raft!.Log;
        foreach (var e in entries)
        {
            var prevTerm = log.Term(e.Index - 1);
            if (prevTerm is null) continue; // predecessor compacted: covered by a snapshot of committed state
            var key = (e.Index, e.Term);
            var val = (prevTerm.Value, Hash(e));
            if (_entries.TryGetValue(key, out var seen))
            {
                if (seen != val)
                    Fail($"log matching: n{n.Id} has entry {e.Index}@{e.Term} with predecessor term {prevTerm} / content differing from another log");
            }
            else
            {
                _entries[key] = val;
            }
        }
    }

    /// <summary>State machine safety: no two servers apply different entries at one index; each applies in order.</summary>
    public void OnApplied(Simulation.SimNode n, Entry e)
    {
        if (e.Index != n.Kv.Applied + 1)
            Fail($"state machine safety: n{n.Id} applied {e.Index} after {n.Kv.Applied}");
        var val = (e.Term, Hash(e));
        if (_applied.TryGetValue(e.Index, out var seen))
        {
            if (seen != val) Fail($"state machine safety: n{n.Id} applied {e.Index}@{e.Term} but another node applied {e.Index}@{seen.Term}");
            _knownCommittedInTerm[e.Index] = Math.Min(_knownCommittedInTerm[e.Index], n.Raft!.Term);
        }
        else
        {
            _applied[e.Index] = val;
            _knownCommittedInTerm[e.Index] = n.Raft!.Term;
            _maxApplied = Math.Max(_maxApplied, e.Index);
        }
    }

    public void OnSnapshotInstalled(Simulation.SimNode n, Snapshot s)
    {
        if (_applied.TryGetValue(s.Index, out var seen) && seen.Term != s.Term)
            Fail($"state machine safety: n{n.Id} installed snapshot {s.Index}@{s.Term} but {s.Index}@{seen.Term} was applied");
    }
}
