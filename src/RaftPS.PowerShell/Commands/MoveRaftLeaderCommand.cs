using System.Diagnostics;
using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Hands leadership of the cluster to another member.</summary>
/// <remarks>
/// <para>Asks the current leader to transfer leadership to the given voting member (Raft thesis section 3.10): the
/// leader brings the target's log up to date and tells it to start an election at once. The cmdlet waits until the
/// target reports itself leader (up to -TimeoutSeconds) and emits its RaftPS.NodeState; otherwise it reports the error
/// Timeout. Use it before taking the leader's machine down for maintenance. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Move-RaftLeader -Id n2</code>
/// <para>Makes n2 the leader.</para>
/// </example>
/// <example>
/// <code>Move-RaftLeader -Id n3 -TimeoutSeconds 5 -WhatIf</code>
/// <para>Shows what would happen without moving leadership.</para>
/// </example>
[Cmdlet(VerbsCommon.Move, "RaftLeader", SupportsShouldProcess = true)]
[OutputType(typeof(NodeState))]
public sealed class MoveRaftLeaderCommand : RaftClientCmdlet
{
    /// <summary>The voting member that should become leader.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string Id { get; set; } = "";

    /// <summary>How long to wait for the target to take over, in seconds (default 10).</summary>
    [Parameter]
    [ValidateRange(0.1, 3600)]
    public double TimeoutSeconds { get; set; } = 10;

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"cluster '{ActiveConnection.ClusterName}'", $"Move leadership to {Id}")) return;
        if (!TryRun(() => Await(ct => Client.TransferLeadershipAsync(Id, ct)), Id)) return;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < TimeoutSeconds)
        {
            var target = ClusterStates().FirstOrDefault(s => string.Equals(s.Id, Id, StringComparison.OrdinalIgnoreCase));
            if (target is { IsLeader: true })
            {
                WriteObject(target);
                return;
            }
            Sleep(TimeSpan.FromMilliseconds(100));
        }
        Fail(RaftErrorId.Timeout, ErrorCategory.OperationTimeout, $"{Id} did not become leader within {TimeoutSeconds} s.", Id);
    }
}
