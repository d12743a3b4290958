using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>Settings of a <see cref="UdpTransport"/>.</summary>
public sealed class TransportOptions
{
    /// <summary>Datagram size, cluster key, reassembly limits: must match what clients and peers use.</summary>
    public WireOptions Wire { get; init; } = new();

    /// <summary>Seed of the random source behind <see cref="FaultSettings.DropRate"/>; defaults to one derived from the node id.</summary>
    public int? FaultSeed { get; init; }

    /// <summary>Requested kernel socket buffer sizes (the OS may cap them); large buffers absorb bursts of pipelined appends.</summary>
    public int SocketBufferSize { get; init; } = 4 << 20;
}
