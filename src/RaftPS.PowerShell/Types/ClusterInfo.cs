namespace RaftPS;

/// <summary>A cluster that New-RaftCluster wrote (and, with -Start, started on this machine).</summary>
public sealed class ClusterInfo
{
    public required string Name { get; init; }
    public required string ClusterFile { get; init; }
    /// <summary>The directory holding the cluster file, the nodes' data directories and their logs.</summary>
    public required string Path { get; init; }
    public required IReadOnlyList<Member> Members { get; init; }
    /// <summary>The background nodes started with -Start; empty otherwise.</summary>
    public IReadOnlyList<NodeProcess> Nodes { get; init; } = [];

    public override string ToString() => $"{Name} ({Members.Count} members)";
}
