using RaftPS.Protocol.Wire;

namespace RaftPS.Node.SnapshotStreaming;

/// <summary>How snapshot streams reach peers: the node's UDP transport, or an in-memory network in tests.</summary>
public interface ISnapshotLink
{
    /// <summary>Largest payload one datagram carries.</summary>
    int MaxPayload { get; }

    /// <summary>Sends one stream datagram (best effort, like UDP). False if it certainly did not leave.</summary>
    bool Send(ulong to, MessageKind kind, WireWriter payload);
}
