using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Closes a connection to a RaftPS cluster.</summary>
/// <remarks>
/// <para>Closes the client socket of the connection (the session's default connection unless -Connection is given).
/// When it is the default, the session has no default connection afterwards. The cluster itself is not changed.</para>
/// </remarks>
/// <example>
/// <code>Disconnect-RaftCluster</code>
/// <para>Closes the session's default connection.</para>
/// </example>
/// <example>
/// <code>$c = Connect-RaftCluster -ClusterFile ./demo/cluster.json
/// Disconnect-RaftCluster -Connection $c</code>
/// <para>Closes a connection held in a variable.</para>
/// </example>
[Cmdlet(VerbsCommunications.Disconnect, "RaftCluster")]
[OutputType(typeof(void))]
public sealed class DisconnectRaftClusterCommand : RaftCmdlet
{
    /// <summary>The connection to close. Defaults to the session's default connection.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true)]
    public Connection? Connection { get; set; }

    protected override void ProcessRecord()
    {
        var connection = Connection ?? SessionConnections.Default;
        if (connection is null)
        {
            WriteVerbose("No connection to close.");
            return;
        }
        if (ReferenceEquals(SessionConnections.Default, connection)) SessionConnections.Default = null;
        if (connection.IsClosed) return;
        connection.IsClosed = true;
        Await(async _ => await connection.Client.DisposeAsync().ConfigureAwait(false));
    }
}
