using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Deletes keys from the RaftPS cluster.</summary>
/// <remarks>
/// <para>Deletes each key through the leader; the cmdlet returns once a majority stored the delete. A key that does
/// not exist is reported as the error KeyNotFound and nothing changes. Keys bind from the pipeline by property name,
/// so the output of Get-RaftValue can be piped in. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Remove-RaftValue -Key greeting</code>
/// <para>Deletes one key.</para>
/// </example>
/// <example>
/// <code>Get-RaftValue -Key 'tmp/*' | Remove-RaftValue -WhatIf</code>
/// <para>Shows which keys under tmp/ would be deleted, without deleting them.</para>
/// </example>
[Cmdlet(VerbsCommon.Remove, "RaftValue", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveRaftValueCommand : RaftClientCmdlet
{
    private readonly PipelineProgress _progress = new(2, "Remove-RaftValue", "keys deleted");

    /// <summary>The keys to delete, taken literally. Binds from the pipeline, also by property name (the output of Get-RaftValue).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(KeyCompleter))]
    public string[] Key { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var key in Key)
        {
            if (!ShouldProcess($"key '{key}' on cluster '{ActiveConnection.ClusterName}'", "Remove value")) continue;
            _progress.Step(this, key);
            TryRun(() => Await(ct => Client.DeleteAsync(key, ct)), key);
        }
    }

    protected override void EndProcessing() => _progress.Complete(this);
}
