using System.Diagnostics;
using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Removes a member from the cluster.</summary>
/// <remarks>
/// <para>Removes the member from the configuration and waits (up to -TimeoutSeconds) until the change is complete.
/// The leader refuses (error WouldLoseQuorum) when the removal would leave fewer reachable, caught-up voters than a
/// quorum; -Force skips that check. Removing the leader first moves leadership to another voter. The removed node
/// stops taking part; stop its process with Stop-RaftNode. Asks for confirmation (ConfirmImpact High): pass
/// -Confirm:$false in scripts. Errors: NotFound, WouldLoseQuorum, ChangeInProgress, NoQuorum.</para>
/// </remarks>
/// <example>
/// <code>Remove-RaftMember -Id n4</code>
/// <para>Removes n4 after asking for confirmation.</para>
/// </example>
/// <example>
/// <code>Remove-RaftMember -Id n2 -Force -Confirm:$false</code>
/// <para>Removes a dead member even though fewer voters than a quorum are caught up, without asking.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "RaftMember", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveRaftMemberCommand : RaftClientCmdlet
{
    /// <summary>The member to remove. Binds from the pipeline by property name (the output of Get-RaftMember).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string Id { get; set; } = "";

    /// <summary>Remove even if fewer reachable, caught-up voters than a quorum would remain.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for the change to complete, in seconds (default 30).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public double TimeoutSeconds { get; set; } = 30;

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"cluster '{ActiveConnection.ClusterName}'", $"Remove member {Id}{(Force ? " (forced)" : "")}")) return;
        TryRun(() =>
        {
            Await(ct => Client.RemoveMemberAsync(Id, Force, ct));
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var status = Await(ct => Client.MembersAsync(ct));
                bool gone = !status.Members.Any(m => string.Equals(m.Id, Id, StringComparison.OrdinalIgnoreCase));
                if (gone && !status.Joint) return;
                if (clock.Elapsed.TotalSeconds >= TimeoutSeconds)
                {
                    Fail(RaftErrorId.Timeout, ErrorCategory.OperationTimeout, $"The removal of {Id} did not complete within {TimeoutSeconds} s.", Id);
                    return;
                }
                Sleep(TimeSpan.FromMilliseconds(100));
            }
        }, Id);
    }
}
