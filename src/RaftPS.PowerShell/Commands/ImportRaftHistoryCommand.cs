using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Reads an operation history from a JSON file written by Export-RaftHistory.</summary>
/// <remarks>
/// <para>The file format is raftps-history/1: a JSON object with "format", "startedAt", "timeUnit" (microseconds) and
/// "operations" (client, kind, key, value, output, call, return; no return = outcome unknown). A file that is not in
/// that format is reported as the error InvalidHistory; a missing file as NotFound.</para>
/// </remarks>
/// <example>
/// <code>Import-RaftHistory ./drill-history.json | Test-RaftHistory</code>
/// <para>Re-checks a history saved by a failed drill.</para>
/// </example>
/// <example>
/// <code>(Import-RaftHistory ./h.json).Operations | Where-Object Key -eq 'reg/0' | Format-Table</code>
/// <para>Lists the recorded operations on one key.</para>
/// </example>
[Cmdlet(VerbsData.Import, "RaftHistory")]
[OutputType(typeof(OperationHistory))]
public sealed class ImportRaftHistoryCommand : RaftCmdlet
{
    /// <summary>The history file to read.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    protected override void ProcessRecord()
    {
        string path = GetUnresolvedProviderPathFromPSPath(Path);
        if (HistoryCmdletSupport.TryLoad(this, path) is { } history) WriteObject(history);
    }
}
