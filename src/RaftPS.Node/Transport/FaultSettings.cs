using System.Collections.Frozen;

namespace RaftPS.Node.Transport;

/// <summary>
/// Faults the transport injects so drills exercise the real network path. Immutable: swap a whole new value into
/// <see cref="UdpTransport.Faults"/> to change them at run time.
/// </summary>
public sealed record FaultSettings
{
    public static readonly FaultSettings None = new();

    /// <summary>Probability in [0, 1] that a peer datagram is lost, applied independently to outgoing and incoming datagrams.</summary>
    public double DropRate { get; init; }

    /// <summary>Extra latency added to each outgoing peer datagram and each incoming peer message.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>Peers whose traffic is dropped in both directions.</summary>
    public IReadOnlySet<ulong> PartitionedFrom { get; init; } = FrozenSet<ulong>.Empty;

    /// <summary>Like a paused VM: nothing in or out, peer and client traffic alike.</summary>
    public bool Suspended { get; init; }

    public bool IsNone => DropRate == 0 && Delay == TimeSpan.Zero && PartitionedFrom.Count == 0 && !Suspended;

    public override string ToString() =>
        IsNone ? "none" :
        $"drop {DropRate:P0}, delay {Delay.TotalMilliseconds} ms, partitioned from [{string.Join(",", PartitionedFrom.Order())}]{(Suspended ? ", suspended" : "")}";
}
