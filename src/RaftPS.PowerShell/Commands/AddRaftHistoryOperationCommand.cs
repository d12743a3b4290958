using System.Management.Automation;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Records one client operation into a history, with its call and return time.</summary>
/// <remarks>
/// <para>For drills that drive the cluster by hand: take the history's clock ($h.Now()) before the call, make the
/// call, then record it. The return time defaults to now. A write that timed out is recorded with -Unknown (it may or
/// may not have taken effect); a Get of a missing key has no -Output. Times are microseconds on the history's clock.
/// Outputs the recorded RaftPS.History.KvOperation with -PassThru.</para>
/// </remarks>
/// <example>
/// <code>$call = $h.Now(); Set-RaftValue -Key k -Value v1
/// Add-RaftHistoryOperation $h -Kind Put -Key k -Value v1 -Call $call</code>
/// <para>Records an acknowledged write.</para>
/// </example>
/// <example>
/// <code>$call = $h.Now(); $v = Get-RaftValue -Key k -Stale -ErrorAction SilentlyContinue
/// Add-RaftHistoryOperation $h -ClientId 2 -Kind Get -Key k -Output $v.Value -Call $call</code>
/// <para>Records a read and what it returned (nothing when the key was missing).</para>
/// </example>
[Cmdlet(VerbsCommon.Add, "RaftHistoryOperation", SupportsShouldProcess = true)]
[OutputType(typeof(KvOperation))]
public sealed class AddRaftHistoryOperationCommand : RaftCmdlet
{
    /// <summary>The history to record into.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNull]
    public OperationHistory? History { get; set; }

    /// <summary>The client that issued the operation (operations of one client never overlap).</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int ClientId { get; set; }

    /// <summary>Put, Get or Delete.</summary>
    [Parameter(Mandatory = true)]
    public KvOpKind Kind { get; set; }

    /// <summary>The key.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    public string Key { get; set; } = "";

    /// <summary>The value a Put wrote.</summary>
    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? Value { get; set; }

    /// <summary>The value a Get returned; omit (or $null) when the key was missing.</summary>
    [Parameter]
    [AllowNull]
    [AllowEmptyString]
    public string? Output { get; set; }

    /// <summary>When the call started, from the history's clock ($h.Now()).</summary>
    [Parameter(Mandatory = true)]
    [ValidateRange(0, long.MaxValue)]
    public long Call { get; set; }

    /// <summary>When it returned (default: now).</summary>
    [Parameter]
    [ValidateRange(0, long.MaxValue)]
    public long? Return { get; set; }

    /// <summary>The outcome is unknown (a write that timed out): it may or may not have taken effect.</summary>
    [Parameter]
    public SwitchParameter Unknown { get; set; }

    /// <summary>Output the recorded operation.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (Kind == KvOpKind.Put && Value is null)
        {
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, "A Put needs -Value.", Key);
        }
        long ret = Return ?? History!.Now();
        if (!Unknown && ret < Call)
        {
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"-Return ({ret}) is before -Call ({Call}).", Key);
        }
        if (!ShouldProcess($"{Kind} {Key}", "Record operation")) return;
        var op = Unknown
            ? new KvOperation(ClientId, Kind, Key, Value, null, Call, long.MaxValue, false)
            : new KvOperation(ClientId, Kind, Key, Value, Kind == KvOpKind.Get ? Output : null, Call, ret, true);
        History!.Add(op);
        if (PassThru) WriteObject(op);
    }
}
