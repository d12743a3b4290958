using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Gets the status of the nodes of a RaftPS cluster.</summary>
/// <remarks>
/// <para>Asks every member for its status and emits one RaftPS.NodeState per member: its role (Leader, Follower,
/// Candidate, ...), term, the leader it follows, its commit, applied and last log index, its snapshot index and the
/// members it knows. A member that does not answer within a second is emitted with the role Unreachable, so the
/// output always covers the whole cluster.</para>
/// </remarks>
/// <example>
/// <code>Get-RaftNode</code>
/// <para>Shows every node of the session's cluster as a table.</para>
/// </example>
/// <example>
/// <code>Get-RaftNode | Where-Object Role -eq Leader | Select-Object -ExpandProperty Members</code>
/// <para>Lists the members as the leader sees them.</para>
/// </example>
/// <example>
/// <code>Get-RaftNode -Id n2 | Format-List *</code>
/// <para>Shows everything node n2 reports.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "RaftNode")]
[OutputType(typeof(NodeState))]
public sealed class GetRaftNodeCommand : RaftClientCmdlet
{
    /// <summary>Only these member ids; wildcards allowed. Binds from the pipeline by property name.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        WriteMatchingIds(ClusterStates(), s => s.Id, Id);
    }
}
