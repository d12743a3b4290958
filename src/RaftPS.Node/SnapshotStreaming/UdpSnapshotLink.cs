using RaftPS.Node.Transport;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>Snapshot streams over the node's <see cref="UdpTransport"/>.</summary>
public sealed class UdpSnapshotLink(UdpTransport transport) : ISnapshotLink
{
    public int MaxPayload => transport.MaxStreamPayload;

    public bool Send(ulong to, MessageKind kind, WireWriter payload) => transport.SendStream(to, kind, payload);
}
