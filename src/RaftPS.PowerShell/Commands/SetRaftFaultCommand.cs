using System.Management.Automation;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Injects transport faults into nodes for a failure drill.</summary>
/// <remarks>
/// <para>Sets the faults of each given node: drop a fraction of its peer datagrams (-DropRate), delay them (-DelayMs),
/// cut it off from some peers (-Partition), or suspend it entirely for a while (-SuspendMs: nothing in or out, like
/// a paused virtual machine; the node lifts it by itself). The settings replace the node's previous faults; clients
/// still reach the node. Nodes refuse (error BadRequest) unless they were started with -AllowFaultInjection.
/// Clear-RaftFault removes the faults. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Set-RaftFault -Id n1 -Partition n2, n3</code>
/// <para>Cuts n1 off from its peers n2 and n3.</para>
/// </example>
/// <example>
/// <code>Set-RaftFault -Id n2, n3 -DropRate 0.2 -DelayMs 20 -PassThru</code>
/// <para>Makes two nodes lose a fifth of their peer traffic and delay the rest by 20 ms, and shows the settings.</para>
/// </example>
/// <example>
/// <code>Set-RaftFault -Id (Wait-RaftLeader).Id -SuspendMs 2000</code>
/// <para>Suspends the leader for two seconds, as if its VM were paused.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "RaftFault", SupportsShouldProcess = true)]
[OutputType(typeof(FaultState))]
public sealed class SetRaftFaultCommand : RaftClientCmdlet
{
    /// <summary>The nodes to affect (member ids). Binds from the pipeline by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[] Id { get; set; } = [];

    /// <summary>Fraction of the node's peer datagrams to drop, from 0 to 1.</summary>
    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double DropRate { get; set; }

    /// <summary>Delay added to each of the node's peer datagrams, in milliseconds.</summary>
    [Parameter]
    [ValidateRange(0, 600_000)]
    public int DelayMs { get; set; }

    /// <summary>Member ids of the peers the node is cut off from (in both directions).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[] Partition { get; set; } = [];

    /// <summary>Suspend the node for this many milliseconds: it sends and receives nothing, then resumes by itself.</summary>
    [Parameter]
    [ValidateRange(0, 3_600_000)]
    public int SuspendMs { get; set; }

    /// <summary>Emit a RaftPS.FaultState with the settings applied to each node.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var spec = new FaultSpec { DropRate = DropRate, DelayMs = DelayMs, PartitionFrom = Partition, SuspendMs = SuspendMs };
        foreach (var id in Id)
        {
            var endpoint = ResolveMember(id);
            if (endpoint is null) continue;
            if (!ShouldProcess($"node {id} ({endpoint})", "Inject faults")) continue;
            if (TryRun(() => Await(ct => Client.SetFaultsAsync(endpoint, spec, ct)), id) && PassThru)
                WriteObject(FaultState.From(id, spec));
        }
    }
}
