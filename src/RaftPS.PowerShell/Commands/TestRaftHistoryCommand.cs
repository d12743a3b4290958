using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Checks a recorded history of client operations for linearizability.</summary>
/// <remarks>
/// <para>Runs the same checker the deterministic simulation uses (Wing and Gong search with Lowe's memoization, per
/// key, as in Porcupine) over the history: every operation must appear to take effect at one instant between its
/// call and its return, in an order that a single copy of the data would produce. Writes of unknown outcome may or
/// may not have taken effect. Returns a RaftPS.History.HistoryVerdict: IsLinearizable, the number of operations,
/// and on a violation the key and the smallest failing time window with its operations (FailingWindow), which is
/// impossible on its own from any value the key could have held when it opened.</para>
/// <para>A violation is a result, not an error: check IsLinearizable. If the search runs out of time, TimedOut is
/// true, a warning is written, and the verdict proves nothing.</para>
/// </remarks>
/// <example>
/// <code>$r = Stop-RaftWorkload $w; $v = Test-RaftHistory $w.History; $v.IsLinearizable</code>
/// <para>Checks the history a workload recorded.</para>
/// </example>
/// <example>
/// <code>Test-RaftHistory -Path ./drill-history.json | Select-Object -ExpandProperty FailingWindow | Format-Table</code>
/// <para>Re-checks a saved history and lists the operations of the smallest failing window.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "RaftHistory", DefaultParameterSetName = HistorySet)]
[OutputType(typeof(HistoryVerdict))]
public sealed class TestRaftHistoryCommand : RaftCmdlet
{
    private const string HistorySet = "History";
    private const string PathSet = "Path";

    /// <summary>The history to check (from New-RaftHistory, Import-RaftHistory or a workload's History property).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = HistorySet)]
    [ValidateNotNull]
    public OperationHistory? History { get; set; }

    /// <summary>A history file written by Export-RaftHistory to check instead.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Longest time the check may take, in seconds (default 60); after that the verdict has TimedOut set.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override void ProcessRecord()
    {
        OperationHistory? history = ParameterSetName == PathSet
            ? HistoryCmdletSupport.TryLoad(this, GetUnresolvedProviderPathFromPSPath(Path))
            : History;
        if (history is null) return;

        var operations = history.Operations;
        // The check is CPU-bound and cannot be interrupted midway, so it runs off the pipeline thread and a stop
        // request returns at once (the abandoned search ends by its own budget).
        HistoryVerdict verdict = Await(ct => Task.Run(() => HistoryAnalyzer.Analyze(operations, TimeSpan.FromSeconds(TimeoutSeconds)), ct)
            .WaitAsync(ct));
        if (verdict.TimedOut)
        {
            WriteWarning($"The linearizability check ran out of time after {TimeoutSeconds} s: no verdict. {verdict.Explanation}");
        }
        WriteObject(verdict);
    }
}
