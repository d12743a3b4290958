using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Gets the transport faults injected into nodes.</summary>
/// <remarks>
/// <para>Asks each given node (every member when -Id is omitted) for the faults Set-RaftFault injected and emits one
/// RaftPS.FaultState per node: DropRate, DelayMs, Partition and the remaining SuspendMs. Nodes started without
/// -AllowFaultInjection report the error BadRequest; unreachable nodes NoQuorum.</para>
/// </remarks>
/// <example>
/// <code>Get-RaftFault</code>
/// <para>Shows the faults of every node.</para>
/// </example>
/// <example>
/// <code>Get-RaftFault -Id n1 | Where-Object Partition</code>
/// <para>Shows whether n1 is cut off from any peer.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "RaftFault")]
[OutputType(typeof(FaultState))]
public sealed class GetRaftFaultCommand : RaftClientCmdlet
{
    /// <summary>The nodes to ask (member ids); every member when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        var ids = Id ?? ClusterStates().Select(s => s.Id).ToArray();
        foreach (var id in ids)
        {
            var endpoint = ResolveMember(id);
            if (endpoint is null) continue;
            TryRun(() => WriteObject(FaultState.From(id, Await(ct => Client.GetFaultsAsync(endpoint, ct)))), id);
        }
    }
}
