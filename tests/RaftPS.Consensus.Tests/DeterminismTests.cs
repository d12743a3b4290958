using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>All randomness is injected: the same seed gives the same run, message for message.</summary>
public class DeterminismTests
{
    private static List<string> Run(int seed)
    {
        var net = Network.Create(5, seed);
        var trace = new List<string>();
        for (int tick = 0; tick < 300; tick++)
        {
            if (tick == 100) net.Isolate(net.Leaders.FirstOrDefault()?.Id ?? 1);
            if (tick == 200) net.Heal();
            if (tick % 7 == 0 && net.Leaders.FirstOrDefault(l => l.Role == Role.Leader) is { } leader)
                net.Propose(leader.Id, $"cmd{tick}");
            net.Tick();
        }
        trace.AddRange(net.Sent.Select(m => m.ToString()));
        trace.AddRange(net.Nodes.Values.Select(n => $"{n.Id} {n.Role} t{n.Term} c{n.Log.Committed} {string.Join(",", Network.LogOf(n))}"));
        return trace;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(42)]
    public void SameSeedSameMessages(int seed)
    {
        var a = Run(seed);
        var b = Run(seed);
        Assert.True(a.Count > 1000);
        Assert.Equal(a, b);
    }

    [Fact]
    public void DifferentSeedsDiverge() => Assert.NotEqual(Run(1), Run(2));
}
