namespace RaftPS.PowerShell;

/// <summary>ErrorIds of the history and workload cmdlets (stable: drills match on them).</summary>
public static class HistoryErrorId
{
    /// <summary>A history file that is not valid JSON in the raftps-history/1 format.</summary>
    public const string InvalidHistory = "InvalidHistory";
    /// <summary>The cluster stopped acknowledging a workload's writes within the wait.</summary>
    public const string WorkloadStalled = "WorkloadStalled";
}
