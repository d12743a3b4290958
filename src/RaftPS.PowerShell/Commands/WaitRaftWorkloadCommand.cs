using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Waits until a running workload has had a number of further writes acknowledged.</summary>
/// <remarks>
/// <para>Blocks until -Writes more writes of the workload were acknowledged by the cluster, counted from when the
/// cmdlet starts. This is how a drill says "the cluster is serving writes again". If that does not happen within
/// -TimeoutSeconds the error WorkloadStalled is reported (category OperationTimeout) with the workload's counters
/// and its latest client errors. Ctrl+C ends the wait at once.</para>
/// </remarks>
/// <example>
/// <code>Wait-RaftWorkload $w -Writes 50 -TimeoutSeconds 20</code>
/// <para>Waits for 50 more acknowledged writes, for at most 20 seconds.</para>
/// </example>
/// <example>
/// <code>Stop-RaftNode -Id n1 -Force; Wait-RaftWorkload $w -Writes 20 -ErrorAction Stop</code>
/// <para>Kills a node and fails the script unless the cluster keeps acknowledging writes.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Wait, "RaftWorkload")]
[OutputType(typeof(Workload))]
public sealed class WaitRaftWorkloadCommand : RaftCmdlet
{
    /// <summary>The workload from Start-RaftWorkload.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Workload? Workload { get; set; }

    /// <summary>How many more acknowledged writes to wait for (default 1).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long Writes { get; set; } = 1;

    /// <summary>Longest wait, in seconds (default 30).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>Output the workload when the wait succeeds.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        var w = Workload!;
        long target = w.Acknowledged + Writes;
        bool reached = Await(ct => w.Engine.WaitForAcknowledgedAsync(target, TimeSpan.FromSeconds(TimeoutSeconds), ct));
        if (!reached)
        {
            string errors = w.Errors.Count == 0 ? "none" : string.Join(" | ", w.Errors.TakeLast(3));
            Fail(HistoryErrorId.WorkloadStalled, ErrorCategory.OperationTimeout,
                $"The workload got {w.Acknowledged - (target - Writes)} of {Writes} acknowledged writes in {TimeoutSeconds} s " +
                $"({w.Acknowledged} acknowledged, {w.Unknown} unknown, {w.NotApplied} not applied in total{(w.IsRunning ? "" : "; it is stopped")}). Latest client errors: {errors}",
                w);
            return;
        }
        if (PassThru) WriteObject(w);
    }
}
