using System.Diagnostics;
using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Waits until the cluster has a leader.</summary>
/// <remarks>
/// <para>Polls the nodes' status until one reports itself leader and emits its RaftPS.NodeState. Progress shows what
/// the nodes report meanwhile. -ExcludeId waits for a leader other than the given members (for example after
/// killing the old leader in a drill). When no leader appears within -TimeoutSeconds the error Timeout is reported
/// (terminating). Ctrl+C ends the wait at once.</para>
/// </remarks>
/// <example>
/// <code>Wait-RaftLeader -TimeoutSeconds 30</code>
/// <para>Waits up to 30 seconds for a leader and shows it.</para>
/// </example>
/// <example>
/// <code>$old = Wait-RaftLeader
/// $cluster.Nodes | Where-Object Id -eq $old.Id | Stop-RaftNode -Force
/// Wait-RaftLeader -ExcludeId $old.Id</code>
/// <para>Kills the leader and waits for the cluster to elect another one.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Wait, "RaftLeader")]
[OutputType(typeof(NodeState))]
public sealed class WaitRaftLeaderCommand : RaftClientCmdlet
{
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(200);

    /// <summary>How long to wait, in seconds (default 30).</summary>
    [Parameter(Position = 0)]
    [ValidateRange(0.1, 86400)]
    public double TimeoutSeconds { get; set; } = 30;

    /// <summary>Wait for a leader that is none of these members.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[] ExcludeId { get; set; } = [];

    protected override void EndProcessing()
    {
        var clock = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(TimeoutSeconds);
        var progress = new ProgressRecord(4, $"Waiting for a leader of cluster '{ActiveConnection.ClusterName}'", "asking the nodes");
        string lastSeen = "no node answered";
        while (true)
        {
            var states = ClusterStates();
            var leader = CurrentLeader(states);
            if (leader is not null)
            {
                progress.RecordType = ProgressRecordType.Completed;
                WriteProgress(progress);
                WriteObject(leader);
                return;
            }
            lastSeen = string.Join(", ", states.Select(s => s.Role == "Unreachable" ? $"{s.Id} unreachable" : $"{s.Id} {s.Role} term {s.Term}"));
            if (clock.Elapsed >= timeout) break;
            progress.StatusDescription = lastSeen;
            progress.PercentComplete = (int)Math.Min(99, 100 * clock.Elapsed / timeout);
            progress.SecondsRemaining = (int)Math.Max(0, (timeout - clock.Elapsed).TotalSeconds);
            WriteProgress(progress);
            Sleep(PollEvery);
        }
        progress.RecordType = ProgressRecordType.Completed;
        WriteProgress(progress);
        string excluded = ExcludeId.Length == 0 ? "" : $" other than {string.Join(", ", ExcludeId)}";
        Terminate(RaftErrorId.Timeout, ErrorCategory.OperationTimeout, $"No leader{excluded} within {TimeoutSeconds} s; last seen: {lastSeen}.", ActiveConnection);
    }

    /// <summary>
    /// The leader of the newest term any node reports, unless excluded. A deposed leader can still call itself leader
    /// for a moment (until a message of the new term reaches it, Raft §5.1), and a node at a higher term than every
    /// leader means an election is under way: neither is the leader yet.
    /// </summary>
    private NodeState? CurrentLeader(IReadOnlyList<NodeState> states)
    {
        var answered = states.Where(s => s.Role != "Unreachable").ToList();
        if (answered.Count == 0) return null;
        ulong newest = answered.Max(s => s.Term);
        var leader = answered.FirstOrDefault(s => s.IsLeader && s.Term == newest);
        return leader is null || ExcludeId.Contains(leader.Id, StringComparer.OrdinalIgnoreCase) ? null : leader;
    }
}
