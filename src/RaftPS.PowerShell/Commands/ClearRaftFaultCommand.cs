using System.Management.Automation;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Removes the injected transport faults of nodes.</summary>
/// <remarks>
/// <para>Clears every fault Set-RaftFault injected into the given nodes (drops, delays, partitions, a suspension
/// still running). Without -Id it clears every member of the cluster that answers. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Clear-RaftFault -Id n1</code>
/// <para>Heals node n1.</para>
/// </example>
/// <example>
/// <code>Clear-RaftFault</code>
/// <para>Heals every node of the cluster at the end of a drill.</para>
/// </example>
[Cmdlet(VerbsCommon.Clear, "RaftFault", SupportsShouldProcess = true)]
[OutputType(typeof(void))]
public sealed class ClearRaftFaultCommand : RaftClientCmdlet
{
    /// <summary>The nodes to heal (member ids); every reachable member when omitted. Binds from the pipeline by property name.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        var ids = Id ?? ClusterStates().Where(s => s.Role != "Unreachable").Select(s => s.Id).ToArray();
        foreach (var id in ids)
        {
            var endpoint = ResolveMember(id);
            if (endpoint is null) continue;
            if (!ShouldProcess($"node {id} ({endpoint})", "Clear faults")) continue;
            TryRun(() => Await(ct => Client.SetFaultsAsync(endpoint, FaultSpec.None, ct)), id);
        }
    }
}
