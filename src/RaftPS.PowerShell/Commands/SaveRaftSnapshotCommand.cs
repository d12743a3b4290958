using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Makes nodes take a snapshot of their state now.</summary>
/// <remarks>
/// <para>Asks each given node to write a snapshot of its applied state and compact its log, as it does by itself
/// once the log grows past its threshold. Emits an object with the node id and the snapshot's log index. Useful
/// before copying a data directory and in drills that need followers to catch up by snapshot. Supports -WhatIf and
/// -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Save-RaftSnapshot -Id n1</code>
/// <para>Snapshots node n1.</para>
/// </example>
/// <example>
/// <code>Get-RaftMember | Save-RaftSnapshot</code>
/// <para>Snapshots every member.</para>
/// </example>
[Cmdlet(VerbsData.Save, "RaftSnapshot", SupportsShouldProcess = true)]
[OutputType(typeof(PSObject))]
public sealed class SaveRaftSnapshotCommand : RaftClientCmdlet
{
    /// <summary>The nodes to snapshot (member ids). Binds from the pipeline by property name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[] Id { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var id in Id)
        {
            var endpoint = ResolveMember(id);
            if (endpoint is null) continue;
            if (!ShouldProcess($"node {id} ({endpoint})", "Take snapshot")) continue;
            TryRun(() =>
            {
                ulong index = Await(ct => Client.SnapshotAsync(endpoint, ct));
                var result = new PSObject();
                result.Properties.Add(new PSNoteProperty("Id", id));
                result.Properties.Add(new PSNoteProperty("SnapshotIndex", index));
                result.TypeNames.Insert(0, "RaftPS.Snapshot");
                WriteObject(result);
            }, id);
        }
    }
}
