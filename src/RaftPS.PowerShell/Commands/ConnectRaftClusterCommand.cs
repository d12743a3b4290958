using System.Management.Automation;
using RaftPS.Client;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Connects to a RaftPS cluster and makes it the session's default connection.</summary>
/// <remarks>
/// <para>Creates a client for the cluster described by a cluster file (its members, name and key) or by a list of
/// endpoints, and makes it the default connection of this session: Get-RaftValue, Set-RaftValue, Get-RaftNode and
/// the other cluster cmdlets use it unless they are given -Connection. Connecting does not contact the nodes; the
/// first operation finds the leader.</para>
/// <para>Any subset of the members works as endpoints: the client follows the nodes' hints to the leader.</para>
/// </remarks>
/// <example>
/// <code>Connect-RaftCluster -ClusterFile ./demo/cluster.json</code>
/// <para>Connects to the cluster described by the file and makes it the session default.</para>
/// </example>
/// <example>
/// <code>$c = Connect-RaftCluster -Endpoint 10.0.0.5:7001, 10.0.0.6:7001 -ClusterName prod -TimeoutSeconds 30
/// Get-RaftValue -Connection $c -Key 'app/*'</code>
/// <para>Connects by address to the cluster named prod, with a 30 second deadline per operation, and uses the connection explicitly.</para>
/// </example>
[Cmdlet(VerbsCommunications.Connect, "RaftCluster", DefaultParameterSetName = ByFile)]
[OutputType(typeof(Connection))]
public sealed class ConnectRaftClusterCommand : RaftCmdlet
{
    private const string ByFile = "ClusterFile";
    private const string ByEndpoint = "Endpoint";

    /// <summary>Path of the cluster file (JSON or one "id host port" per line) that lists the members, the cluster name and its key.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByFile, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string ClusterFile { get; set; } = "";

    /// <summary>One or more node addresses as host:port. The client finds the leader from any of them.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByEndpoint)]
    [ValidateNotNullOrEmpty]
    public string[] Endpoint { get; set; } = [];

    /// <summary>The cluster's name (it must match the nodes' cluster file); used with -Endpoint. Defaults to raftps.</summary>
    [Parameter(ParameterSetName = ByEndpoint)]
    [ValidateNotNullOrEmpty]
    public string ClusterName { get; set; } = ClusterDefinition.DefaultClusterName;

    /// <summary>The cluster's shared key, when its cluster file has one; used with -Endpoint.</summary>
    [Parameter(ParameterSetName = ByEndpoint)]
    [ValidateNotNullOrEmpty]
    public string? Key { get; set; }

    /// <summary>File with the client secret (first line current), for a cluster whose data clients need a key.</summary>
    [Parameter]
    public string? ClientKeyFile { get; set; }

    /// <summary>File with the admin secret: membership changes, leadership moves, fault injection and snapshots need it.</summary>
    [Parameter]
    public string? AdminKeyFile { get; set; }

    /// <summary>How long one operation may take, retries included, in seconds (default 10).</summary>
    [Parameter]
    [ValidateRange(0.1, 3600)]
    public double TimeoutSeconds { get; set; } = 10;

    protected override void ProcessRecord()
    {
        var connection = RunOrThrow(Create, ParameterSetName == ByFile ? ClusterFile : Endpoint);
        var previous = SessionConnections.Default;
        SessionConnections.Default = connection;
        // The replaced default would otherwise keep its socket until the session ends.
        if (previous is not null && !ReferenceEquals(previous, connection) && previous.ClusterFile is not null && !previous.IsClosed)
            WriteVerbose($"Connection to {previous} is no longer the default; Disconnect-RaftCluster -Connection closes it.");
        WriteObject(connection);
    }

    private Connection Create()
    {
        var settings = new RaftClientOptions
        {
            Deadline = TimeSpan.FromSeconds(TimeoutSeconds),
            ClusterKey = ClientKeyFile is null ? null : ClusterCredentials.LoadKeyFile(GetUnresolvedProviderPathFromPSPath(ClientKeyFile))[0],
            AdminKey = AdminKeyFile is null ? null : ClusterCredentials.LoadKeyFile(GetUnresolvedProviderPathFromPSPath(AdminKeyFile))[0],
        };
        if (ParameterSetName == ByFile)
        {
            string path = GetUnresolvedProviderPathFromPSPath(ClusterFile);
            var cluster = ClusterDefinition.Load(path);
            return new Connection(RaftClient.Create(cluster, settings), cluster.ClusterName, path);
        }
        var options = settings with { Endpoints = ClusterDefinition.ParseEndpoints(Endpoint), ClusterName = ClusterName, ClusterKey = Key ?? settings.ClusterKey };
        return new Connection(new RaftClient(options), ClusterName, null);
    }
}
