using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node;

/// <summary>Thrown when a node would start in an unsafe configuration (see <see cref="NodeSecurity.CheckBind"/>).</summary>
public sealed class InsecureConfigurationException(string message) : Exception(message);

/// <summary>The node's secure defaults: which keys it holds, and when it refuses to start.</summary>
public static class NodeSecurity
{
    /// <summary>The node's keyring: its credentials, plus the cluster file's key as an accepted client secret.</summary>
    public static Keyring KeyringFor(NodeOptions options, ulong clusterId)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new Keyring(clusterId, options.Credentials.WithClientSecret(options.Cluster?.Key ?? options.ClusterKey));
    }

    /// <summary>
    /// A node reachable from other hosts must hold a peer credential: without one anyone who can reach the port can
    /// speak as a member. Loopback needs none (only local processes reach it, and peers are checked by address).
    /// <paramref name="insecure"/> overrides this, loudly.
    /// </summary>
    /// <exception cref="InsecureConfigurationException">Non-loopback address, no peer credential, not insecure.</exception>
    public static void CheckBind(IPAddress bind, Keyring keys, bool insecure, ILogger log)
    {
        ArgumentNullException.ThrowIfNull(bind);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(log);
        if (keys.Has(CredentialRole.Peer) || IPAddress.IsLoopback(bind)) return;
        if (!insecure)
            throw new InsecureConfigurationException(
                $"refusing to listen on {bind} without a peer credential: anyone who can reach the port could act as a cluster member. " +
                "Give the node a peer key file (--peer-key-file; raftps keygen makes one), or start it with --insecure on a network you trust completely.");
        log.LogCritical("INSECURE: listening on {Address} without a peer credential (--insecure). Anyone who can reach this port can " +
                        "impersonate a cluster member, read all traffic and change or destroy data.", bind);
    }
}
