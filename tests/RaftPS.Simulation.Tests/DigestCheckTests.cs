using RaftPS.Consensus;
using RaftPS.History;

namespace RaftPS.Simulation.Tests;

public class DigestCheckTests
{
    private static Simulation.SimNode Node(ulong id) => new(id, ConfState.Of(1, 2));

    [Fact]
    public void Replicas_that_applied_differently_at_the_same_index_are_a_violation()
    {
        var violations = new List<string>();
        var check = new DigestCheck(violations);
        Simulation.SimNode a = Node(1), b = Node(2), c = Node(3);
        for (ulong i = 1; i <= DigestCheck.Every; i++)
        {
            a.Kv.Apply(i, new SimCommand(1, (long)i, KvOpKind.Put, "k", "v" + i));
            c.Kv.Apply(i, new SimCommand(1, (long)i, KvOpKind.Put, "k", "v" + i));
            // b drifts once: its last write applied another value, as a replica with other local settings might
            b.Kv.Apply(i, new SimCommand(1, (long)i, KvOpKind.Put, "k", i == DigestCheck.Every ? "other" : "v" + i));
            check.OnApplied(a);
            check.OnApplied(c);
            check.OnApplied(b);
        }
        Assert.Contains("replica drift: n2", Assert.Single(violations));
    }

    [Fact]
    public void A_snapshot_that_holds_another_state_than_the_replicas_had_at_its_index_is_a_violation()
    {
        var violations = new List<string>();
        var check = new DigestCheck(violations);
        var a = Node(1);
        a.Kv.Apply(1, new SimCommand(1, 1, KvOpKind.Put, "k", "v"));
        check.OnSnapshot(a);
        var b = Node(2);
        b.Kv = SimKv.Deserialize(a.Kv.Serialize());
        check.OnSnapshot(b);
        Assert.Empty(violations);
        b.Kv.Apply(1, new SimCommand(2, 1, KvOpKind.Put, "k", "w")); // same index, other state
        check.OnSnapshot(b);
        Assert.Single(violations);
    }
}
