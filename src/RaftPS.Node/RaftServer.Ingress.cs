using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node;

/// <summary>Admission of client requests into the loop's queue, and replacing credentials at run time.</summary>
public sealed partial class RaftServer
{
    // Client requests queued for the loop and not yet handled: the transport answers "busy" beyond the limit, so a
    // flood of requests costs memory in proportion to the limit, not to the flood.
    private int _queuedClientRequests;

    /// <summary>Client requests waiting in the ingress queue.</summary>
    public int QueuedClientRequests => Volatile.Read(ref _queuedClientRequests);

    private bool AdmitClient() => Volatile.Read(ref _queuedClientRequests) < _options.MaxQueuedClientRequests;

    private void PostClient(ClientRequest request, EndPoint from)
    {
        Interlocked.Increment(ref _queuedClientRequests);
        if (!Post(new LoopEvent.Client(request, from))) Interlocked.Decrement(ref _queuedClientRequests);
    }

    // Peer messages queued for the loop: beyond the limit they are shed (counted), which Raft tolerates like any lost
    // datagram, so a flood from a peer (or, on a keyless cluster, from anyone) cannot grow the queue without bound.
    private int _queuedPeerMessages;
    private long _peerMessagesShed;

    /// <summary>Peer messages dropped because the ingress queue held <see cref="NodeOptions.MaxQueuedPeerMessages"/> already.</summary>
    public long PeerMessagesShed => Interlocked.Read(ref _peerMessagesShed);

    /// <summary>Test hook: runs <paramref name="action"/> on the event loop (a blocking action stalls the loop meanwhile).</summary>
    internal bool RunOnLoop(Action action) => Post(new LoopEvent.Invoke(action));

    private void PostPeer(Consensus.Message message)
    {
        if (Volatile.Read(ref _queuedPeerMessages) >= _options.MaxQueuedPeerMessages)
        {
            Interlocked.Increment(ref _peerMessagesShed);
            return;
        }
        Interlocked.Increment(ref _queuedPeerMessages);
        if (!Post(new LoopEvent.Peer(message, FromWire: true))) Interlocked.Decrement(ref _queuedPeerMessages);
    }

    /// <summary>
    /// Replaces this node's secrets without a restart (a rotation step): every listed secret is accepted from now on,
    /// and the first of each role is used to send. The cluster file's key stays an accepted client secret.
    /// </summary>
    /// <exception cref="ArgumentException">The credentials are inconsistent (a peer secret reused for another role).</exception>
    public void UpdateCredentials(ClusterCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var keys = NodeSecurity.KeyringFor(_options with { Credentials = credentials }, _transport.ClusterId);
        if (!keys.Has(CredentialRole.Peer) && _transport.Keys.Has(CredentialRole.Peer))
            throw new ArgumentException("cannot drop the peer credential of a running node");
        _transport.Keys = keys;
        _log.LogInformation("credentials replaced: {Peer} peer, {Client} client, {Admin} admin secret(s)",
            credentials.Peer.Count, credentials.Client.Count, credentials.Admin.Count);
    }
}
