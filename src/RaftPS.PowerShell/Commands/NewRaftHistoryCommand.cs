using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Creates an empty operation history to record client operations into.</summary>
/// <remarks>
/// <para>A history (RaftPS.History.OperationHistory) is a thread-safe record of client operations (Put, Get, Delete)
/// with their call and return times in microseconds on one clock, and with writes whose outcome is unknown
/// (timed out) marked as such. Start-RaftWorkload records into it; Test-RaftHistory checks it for linearizability;
/// Export-RaftHistory saves it as JSON.</para>
/// </remarks>
/// <example>
/// <code>$h = New-RaftHistory
/// $w = Start-RaftWorkload -History $h
/// Stop-RaftWorkload $w; Test-RaftHistory $h</code>
/// <para>Records a workload into a new history and checks it.</para>
/// </example>
/// <example>
/// <code>$h = New-RaftHistory; $h.Count</code>
/// <para>Creates a history; it is empty (0 operations) until something records into it.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "RaftHistory", SupportsShouldProcess = true)]
[OutputType(typeof(OperationHistory))]
public sealed class NewRaftHistoryCommand : RaftCmdlet
{
    protected override void ProcessRecord()
    {
        // Only an in-memory object, but New- verbs honour -WhatIf like every other state change in the module.
        if (ShouldProcess("operation history", "Create")) WriteObject(new OperationHistory());
    }
}
