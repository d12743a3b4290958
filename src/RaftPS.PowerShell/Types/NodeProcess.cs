namespace RaftPS;

/// <summary>A node that Start-RaftNode -Background started as its own process on this machine.</summary>
public sealed class NodeProcess
{
    public required string Id { get; init; }
    /// <summary>"host:port" the node serves peers and clients on.</summary>
    public required string Endpoint { get; init; }
    public required int Pid { get; init; }
    public required string DataPath { get; init; }
    /// <summary>The node's log file (its warnings, errors and the reason it stopped).</summary>
    public required string LogPath { get; init; }
    /// <summary>The cluster file it was started with, or null for a joiner started with -Join.</summary>
    public string? ClusterFile { get; init; }
    /// <summary>When the process started; Stop-RaftNode compares it so a reused pid is never signalled.</summary>
    public required DateTime StartTime { get; init; }

    public override string ToString() => $"{Id} (pid {Pid})";
}
