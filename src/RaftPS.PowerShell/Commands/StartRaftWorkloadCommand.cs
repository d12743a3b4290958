using System.Management.Automation;
using RaftPS.Client;
using RaftPS.History;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Starts a bounded concurrent write and read load against the cluster that records every operation.</summary>
/// <remarks>
/// <para>Starts -Clients concurrent clients in the background and returns a RaftPS.Workload at once. Each client
/// repeatedly reads a shared register key linearizably, overwrites one with a unique value, or writes a fresh ledger
/// key exactly once, pausing -PauseMilliseconds between operations. Every operation is recorded into the history
/// with its call and return time; a write that timed out is recorded as of unknown outcome (it may or may not have
/// been applied), one the cluster certainly refused is counted in NotApplied and left out.</para>
/// <para>The workload uses its own client with a short per-operation deadline (-OperationTimeoutSeconds), so a
/// failure drill sees unknown outcomes rather than long stalls. All its keys start with KeyPrefix (unique per
/// workload). Use Wait-RaftWorkload to wait for progress, Stop-RaftWorkload to end it and read everything back, and
/// Test-RaftHistory on its History.</para>
/// </remarks>
/// <example>
/// <code>$w = Start-RaftWorkload -Clients 4
/// Wait-RaftWorkload $w -Writes 100
/// $result = Stop-RaftWorkload $w
/// (Test-RaftHistory $w.History).IsLinearizable</code>
/// <para>Runs a load until 100 writes were acknowledged, stops it, and checks the recorded history.</para>
/// </example>
/// <example>
/// <code>$h = New-RaftHistory
/// $w = Start-RaftWorkload -Connection $c -History $h -Clients 2 -ReadPercent 70 -PauseMilliseconds 10</code>
/// <para>A lighter, read-heavy load recording into an existing history.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Start, "RaftWorkload", SupportsShouldProcess = true)]
[OutputType(typeof(Workload))]
public sealed class StartRaftWorkloadCommand : RaftClientCmdlet
{
    /// <summary>The history to record into; a new one when omitted (the workload's History property).</summary>
    [Parameter]
    [ValidateNotNull]
    public OperationHistory? History { get; set; }

    /// <summary>Number of concurrent clients (1-64, default 4).</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int Clients { get; set; } = 4;

    /// <summary>Number of shared register keys the clients overwrite and read (1-1000, default 4).</summary>
    [Parameter]
    [ValidateRange(1, 1000)]
    public int RegisterKeys { get; set; } = 4;

    /// <summary>Percent of operations that are linearizable reads (default 40).</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int ReadPercent { get; set; } = 40;

    /// <summary>Percent of operations that write a fresh ledger key, read back at the end (default 30); the rest overwrite registers.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int LedgerPercent { get; set; } = 30;

    /// <summary>Pause of each client after each operation, in milliseconds (default 2), to keep the load bounded.</summary>
    [Parameter]
    [ValidateRange(0, 10000)]
    public int PauseMilliseconds { get; set; } = 2;

    /// <summary>Deadline of one operation including retries, in seconds (default 2); a write past it is recorded as unknown.</summary>
    [Parameter]
    [ValidateRange(1, 600)]
    public int OperationTimeoutSeconds { get; set; } = 2;

    /// <summary>How long Stop-RaftWorkload may keep retrying the read-back, in seconds (default 30).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int ReadBackTimeoutSeconds { get; set; } = 30;

    /// <summary>Prefix of every key the workload touches; unique per workload when omitted.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KeyPrefix { get; set; }

    protected override void ProcessRecord()
    {
        if (ReadPercent + LedgerPercent > 100)
        {
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument,
                $"ReadPercent ({ReadPercent}) + LedgerPercent ({LedgerPercent}) must not exceed 100.", null);
        }
        var defaults = new WorkloadOptions();
        var options = defaults with
        {
            Clients = Clients,
            RegisterKeys = RegisterKeys,
            ReadPercent = ReadPercent,
            LedgerPercent = LedgerPercent,
            Pause = TimeSpan.FromMilliseconds(PauseMilliseconds),
            FinalReadTimeout = TimeSpan.FromSeconds(ReadBackTimeoutSeconds),
            KeyPrefix = KeyPrefix ?? defaults.KeyPrefix,
        };
        var connection = ActiveConnection;
        if (!ShouldProcess($"keys {options.KeyPrefix}* on cluster '{connection.ClusterName}'", $"Start a workload of {Clients} clients")) return;

        var deadline = TimeSpan.FromSeconds(OperationTimeoutSeconds);
        var attempt = TimeSpan.FromMilliseconds(Math.Min(200, deadline.TotalMilliseconds));
        var client = new RaftClient(connection.Client.Options with { Deadline = deadline, AttemptTimeout = attempt, PreferredEndpoint = null });
        try
        {
            var engine = KvWorkload.Start(new RaftClientTarget(client), History ?? new OperationHistory(), options);
            WriteObject(new Workload(engine, client, connection.ClusterName));
        }
        catch
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
