using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>Always the same draw (clamped to the range), so a test knows a node's randomized election timeout exactly.</summary>
public sealed class FixedRandom(int value) : IRandomSource
{
    public int Next(int maxExclusive) => Math.Min(value, maxExclusive - 1);
}
