using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Saves an operation history as a JSON file.</summary>
/// <remarks>
/// <para>Writes the history in the raftps-history/1 format (see Import-RaftHistory) to a temporary file and renames it
/// into place, so the file is never half written. Useful to attach the record of a failed drill to a bug report and
/// re-check it later with Test-RaftHistory -Path.</para>
/// </remarks>
/// <example>
/// <code>Export-RaftHistory -History $h -Path ./drill-history.json</code>
/// <para>Saves a drill's history.</para>
/// </example>
/// <example>
/// <code>$w.History | Export-RaftHistory -Path "$env:TEMP/workload.json" -PassThru</code>
/// <para>Saves a workload's history and outputs the file.</para>
/// </example>
[Cmdlet(VerbsData.Export, "RaftHistory", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportRaftHistoryCommand : RaftCmdlet
{
    /// <summary>The history to save (from New-RaftHistory, Import-RaftHistory or a workload's History property).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNull]
    public OperationHistory? History { get; set; }

    /// <summary>The file to write; an existing file is replaced.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Output the written file.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        string path = GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(path, $"Save history of {History!.Count} operations")) return;
        if (TryRun(() => History.Save(path), path) && PassThru) WriteObject(new FileInfo(path));
    }
}
