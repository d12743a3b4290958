using RaftPS.Protocol;

namespace RaftPS;

/// <summary>The injected transport faults of one node (Set-RaftFault -PassThru, Get-RaftFault).</summary>
public sealed class FaultState
{
    public required string Id { get; init; }
    /// <summary>Fraction (0 to 1) of peer datagrams dropped.</summary>
    public double DropRate { get; init; }
    /// <summary>Delay added to every peer datagram, in milliseconds.</summary>
    public int DelayMs { get; init; }
    /// <summary>Peers this node is cut off from.</summary>
    public IReadOnlyList<string> Partition { get; init; } = [];
    /// <summary>Milliseconds the node was suspended for (nothing in or out, like a paused VM).</summary>
    public int SuspendMs { get; init; }

    internal static FaultState From(string id, FaultSpec f) => new()
    {
        Id = id,
        DropRate = f.DropRate,
        DelayMs = f.DelayMs,
        Partition = f.PartitionFrom.ToArray(),
        SuspendMs = f.SuspendMs,
    };

    public override string ToString() => Id;
}
