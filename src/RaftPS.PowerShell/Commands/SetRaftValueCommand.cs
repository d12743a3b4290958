using System.Management.Automation;
using System.Text;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Writes a value to a key of the RaftPS cluster.</summary>
/// <remarks>
/// <para>Writes the value through the leader; the cmdlet returns once a majority of the cluster stored it on disk. A
/// write that was retried after a lost answer is applied exactly once. With -ExpectedVersion the write is a
/// compare-and-set: it only happens when the key's version still equals the given one (0: the key must not exist),
/// otherwise the error VersionMismatch is reported and nothing is written.</para>
/// <para>Key and Value bind from the pipeline by property name, so objects with Key and Value properties (such as
/// the rows of Import-Csv) can be piped in; long pipelines show progress. The writes of one pipeline are applied in
/// pipeline order.</para>
/// </remarks>
/// <example>
/// <code>Set-RaftValue -Key greeting -Value hello</code>
/// <para>Writes hello to the key greeting.</para>
/// </example>
/// <example>
/// <code>Import-Csv ./kv.csv | Set-RaftValue</code>
/// <para>Writes every row of a CSV file with the columns Key and Value.</para>
/// </example>
/// <example>
/// <code>$v = Get-RaftValue -Key counter
/// Set-RaftValue -Key counter -Value ([int]$v.Value + 1) -ExpectedVersion $v.Version -PassThru</code>
/// <para>Increments a counter with compare-and-set: if another client changed it in between, the error VersionMismatch is reported and nothing is written.</para>
/// </example>
[Cmdlet(VerbsCommon.Set, "RaftValue", SupportsShouldProcess = true)]
[OutputType(KeyValue.TypeName)]
public sealed class SetRaftValueCommand : RaftClientCmdlet
{
    private readonly PipelineProgress _progress = new(1, "Set-RaftValue", "values written");

    /// <summary>The key to write (non-empty text). Binds from the pipeline by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(KeyCompleter))]
    public string Key { get; set; } = "";

    /// <summary>The value to store, as text (stored as UTF-8). Binds from the pipeline by property name; may be empty.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string Value { get; set; } = "";

    /// <summary>Write only if the key's current version is this one (0: only if the key does not exist); otherwise report VersionMismatch and write nothing.</summary>
    [Parameter]
    public ulong? ExpectedVersion { get; set; }

    /// <summary>Emit the stored value (RaftPS.Value with its new version) for each write.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"key '{Key}' on cluster '{ActiveConnection.ClusterName}'", "Set value")) return;
        _progress.Step(this, Key);
        var bytes = Encoding.UTF8.GetBytes(Value);
        TryRun(() =>
        {
            KvItem item = ExpectedVersion is { } expected
                ? Await(ct => Client.CompareAndSetAsync(Key, bytes, expected, null, ct))
                : Await(ct => Client.PutAsync(Key, bytes, ct));
            if (PassThru) WriteObject(KeyValue.From(item));
        }, Key);
    }

    protected override void EndProcessing() => _progress.Complete(this);
}
