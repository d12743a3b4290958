using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Stops a workload, reads every key it wrote back, and reports what it did and any lost write.</summary>
/// <remarks>
/// <para>Stops the workload's clients (a write still in flight is recorded as of unknown outcome), then reads every
/// register and ledger key back linearizably, retrying each until it answers or the workload's read-back timeout
/// passes; those reads are recorded into the history too. Returns a RaftPS.History.WorkloadResult with the
/// counters, LostWrites (acknowledged ledger writes that are gone: "key: wrote X, read Y") and Unverified (ledger keys
/// that could not be read back). Stopping a stopped workload returns the same result.</para>
/// </remarks>
/// <example>
/// <code>$r = Stop-RaftWorkload $w
/// $r.LostWrites.Count; $r.Unverified.Count</code>
/// <para>Stops a workload; both counts must be 0 after a healthy run.</para>
/// </example>
/// <example>
/// <code>$r = Stop-RaftWorkload $w; Test-RaftHistory $w.History</code>
/// <para>Stops a workload and checks everything it recorded, read-back included.</para>
/// </example>
/// <example>
/// <code>Stop-RaftWorkload $w -SkipReadBack</code>
/// <para>Stops the clients at once without reading anything back, e.g. when cleaning up after a failed drill.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Stop, "RaftWorkload", SupportsShouldProcess = true)]
[OutputType(typeof(WorkloadResult))]
public sealed class StopRaftWorkloadCommand : RaftCmdlet
{
    /// <summary>The workload from Start-RaftWorkload.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Workload? Workload { get; set; }

    /// <summary>Do not read anything back (for cleanup when the cluster may be down): every ledger key is reported in Unverified.</summary>
    [Parameter]
    public SwitchParameter SkipReadBack { get; set; }

    protected override void ProcessRecord()
    {
        var w = Workload!;
        if (!ShouldProcess(w.ToString(), "Stop workload")) return;
        try
        {
            WriteObject(Await(ct => w.Engine.StopAsync(ct, readBack: !SkipReadBack)));
        }
        finally
        {
            // The workload's own client; safe to dispose twice.
            w.Client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
