using System.Net;
using RaftPS.Client;

namespace RaftPS;

/// <summary>
/// A client of one cluster (Connect-RaftCluster). Data and membership cmdlets use the session's default connection
/// unless given -Connection. Holds one UDP socket until Disconnect-RaftCluster.
/// </summary>
public sealed class Connection
{
    internal Connection(RaftClient client, string clusterName, string? clusterFile)
    {
        Client = client;
        ClusterName = clusterName;
        ClusterFile = clusterFile;
        Endpoints = client.Endpoints.Select(e => e.ToString()).ToArray();
    }

    internal RaftClient Client { get; }

    public string ClusterName { get; }
    /// <summary>The cluster file it was made from, or null when connected by -Endpoint.</summary>
    public string? ClusterFile { get; }
    /// <summary>The nodes the client contacts to find the leader.</summary>
    public IReadOnlyList<string> Endpoints { get; }
    /// <summary>The node that last answered as leader, or null when unknown yet.</summary>
    public string? Leader => Client.KnownLeader?.ToString();
    /// <summary>Total time one operation may take, retries included.</summary>
    public TimeSpan Timeout => Client.Options.Deadline;
    public bool IsClosed { get; internal set; }

    internal IReadOnlyList<IPEndPoint> EndPoints => Client.Endpoints;

    public override string ToString() => $"{ClusterName} ({string.Join(", ", Endpoints)})";
}
