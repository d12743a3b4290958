using System.Collections.Concurrent;
using System.Net;

namespace RaftPS.Node.Transport;

/// <summary>Node id to UDP endpoint. Thread-safe and updatable at run time as membership changes.</summary>
public sealed class PeerAddressBook
{
    private readonly ConcurrentDictionary<ulong, IPEndPoint> _peers = new();

    public PeerAddressBook() { }

    public PeerAddressBook(IEnumerable<KeyValuePair<ulong, IPEndPoint>> peers)
    {
        ArgumentNullException.ThrowIfNull(peers);
        foreach (var (id, ep) in peers) Set(id, ep);
    }

    public int Count => _peers.Count;

    /// <summary>Adds or replaces a peer's address.</summary>
    public void Set(ulong nodeId, IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _peers[nodeId] = endPoint;
    }

    public bool Remove(ulong nodeId) => _peers.TryRemove(nodeId, out _);

    public bool TryGet(ulong nodeId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? endPoint) =>
        _peers.TryGetValue(nodeId, out endPoint);

    public IReadOnlyDictionary<ulong, IPEndPoint> Snapshot() => new Dictionary<ulong, IPEndPoint>(_peers);
}
