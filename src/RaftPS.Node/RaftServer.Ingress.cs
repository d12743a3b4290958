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
