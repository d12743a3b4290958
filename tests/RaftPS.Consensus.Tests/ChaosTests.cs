using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>
/// Seeded random faults over the whole core: reordered, dropped and duplicated messages, partitions, crashes with
/// recovery from what was persisted, compaction and (optionally) membership churn through single-server and joint
/// changes. The harness checks election safety and state machine safety after every step; at the end log matching and
/// leader completeness are checked and the healed cluster must make progress.
/// </summary>
public class ChaosTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(5, false)]
    [InlineData(6, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(5, true)]
    [InlineData(6, true)]
    public void RandomFaultsNeverBreakSafety(int seed, bool membership)
    {
        var rng = new Random(seed);
        var net = Network.Create(5, seed, o => o with { MaxInflightMessages = 4, MaxSizePerMessage = 200 });
        net.Chaos = rng;
        net.DropRate = membership ? 0.2 : 0.1;
        net.DuplicateRate = membership ? 0.1 : 0.05;
        int proposals = 0;
        for (int step = 0; step < 800; step++)
        {
            net.TickOnly();
            int deliver = rng.Next(0, 40);
            for (int i = 0; i < deliver && net.DeliverOne(); i++) { }
            if (rng.Next(4) == 0)
                foreach (var leader in net.Leaders.ToList())
                    net.Do(leader.Id, r => r.Propose(System.Text.Encoding.UTF8.GetBytes($"s{seed}-p{proposals++}")), deliver: false);
            if (membership && rng.Next(10) == 0)
                foreach (var leader in net.Leaders.ToList())
                    ProposeRandomChange(net, leader, rng);
            if (rng.Next(60) == 0) net.Isolate((ulong)rng.Next(1, 6));
            if (rng.Next(40) == 0) net.Heal();
            if (rng.Next(100) == 0) net.Restart((ulong)rng.Next(1, 6));
            if (rng.Next(50) == 0) CompactRandomNode(net, rng);
        }

        // Heal everything and require progress.
        net.Heal();
        net.DropRate = 0;
        net.DuplicateRate = 0;
        net.Chaos = null;
        net.DeliverAll();
        net.TickUntil(() => net.Leaders.Count() == 1 && net.Nodes.Values.All(n => n.Lead == net.Leaders.First().Id), 1000);
        var final = net.Leader;
        if (final.Config.Voters.IsJoint)
        {
            // Leave a joint configuration left behind by the churn once the previous change is applied.
            net.TickUntil(() => final.Log.Applied == final.Log.LastIndex, 200);
            var cs = final.Config.ToConfState();
            Assert.NotEqual(0UL, net.Do(final.Id, r => r.ProposeConfChange(new ConfState(cs.Voters, cs.Learners, [], []))));
        }
        var index = net.Do(final.Id, r => r.Propose("final"u8.ToArray()));
        Assert.NotEqual(0UL, index);
        net.TickUntil(() => net.Nodes.Values.All(n => n.Log.Applied >= index), 400);
        Assert.True(proposals > 50);
        if (membership) Assert.True(net.AppliedByIndex.Values.Count(e => e.Type == EntryType.ConfChange) >= 3);

        // Leader completeness (paper §5.4): every entry applied anywhere is in the final leader's log.
        foreach (var (i, e) in net.AppliedByIndex)
        {
            if (i <= final.Log.SnapshotIndex) continue;
            Assert.True(final.Log.MatchTerm(i, e.Term), $"applied {e} missing from leader {final.Id}");
        }
        // Log matching (paper §5.3): same index and term imply identical prefixes.
        foreach (var a in net.Nodes.Values)
            foreach (var b in net.Nodes.Values)
            {
                if (a.Id >= b.Id) continue;
                var lo = Math.Max(a.Log.FirstIndex, b.Log.FirstIndex);
                var hi = Math.Min(a.Log.LastIndex, b.Log.LastIndex);
                for (var i = hi; i >= lo; i--)
                {
                    if (a.Log.Term(i) != b.Log.Term(i)) continue;
                    for (var j = lo; j <= i; j++)
                    {
                        var (x, y) = (a.Log.At(j), b.Log.At(j));
                        Assert.True(x.Term == y.Term && x.Type == y.Type && x.Data.AsSpan().SequenceEqual(y.Data),
                            $"logs of {a.Id} and {b.Id} agree at {i} but differ at {j}: {x} vs {y}");
                    }
                    break;
                }
            }
    }

    /// <summary>Toggles node 3, 4 or 5 between voter and learner, sometimes through a joint configuration.</summary>
    private static void ProposeRandomChange(Network net, Raft leader, Random rng)
    {
        var cs = leader.Config.ToConfState();
        ConfState target;
        if (leader.Config.Voters.IsJoint) target = new ConfState(cs.Voters, cs.Learners, [], []);
        else
        {
            var id = (ulong)rng.Next(3, 6);
            target = cs.Voters.Contains(id)
                ? new ConfState(cs.Voters.Where(v => v != id).ToArray(), cs.Learners.Append(id).ToArray(), [], [])
                : new ConfState(cs.Voters.Append(id).ToArray(), cs.Learners.Where(v => v != id).ToArray(), [], []);
            if (rng.Next(3) == 0) target = new ConfState(target.Voters, target.Learners, cs.Voters, []);
        }
        // The joint form above may put a demoted voter into both Learners and the outgoing half; validation refuses that.
        try { net.Do(leader.Id, r => r.ProposeConfChange(target), deliver: false); }
        catch (ArgumentException) { }
    }

    private static void CompactRandomNode(Network net, Random rng)
    {
        var n = net[(ulong)rng.Next(1, 6)];
        var at = n.Log.Applied;
        if (at == 0 || at <= n.Log.SnapshotIndex) return;
        var snap = new Snapshot(new SnapshotMetadata(at, n.Log.Term(at)!.Value, n.ConfStateAt(at)), []);
        n.Compact(snap, at - Math.Min(at, (ulong)rng.Next(0, 5)));
    }
}
