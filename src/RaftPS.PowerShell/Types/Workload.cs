using RaftPS.Client;
using RaftPS.History;

namespace RaftPS;

/// <summary>
/// A running load from Start-RaftWorkload: concurrent clients writing and reading the cluster and recording every
/// operation into <see cref="History"/>. Stop-RaftWorkload ends it, reads every key back and reports lost writes.
/// </summary>
public sealed class Workload
{
    internal Workload(KvWorkload engine, RaftClient client, string clusterName)
    {
        Engine = engine;
        Client = client;
        ClusterName = clusterName;
    }

    internal KvWorkload Engine { get; }
    /// <summary>The workload's own client (its own sessions and a short per-operation deadline); closed by Stop-RaftWorkload.</summary>
    internal RaftClient Client { get; }

    public string ClusterName { get; }
    public OperationHistory History => Engine.History;
    public string KeyPrefix => Engine.Options.KeyPrefix;
    public int Clients => Engine.Options.Clients;
    public bool IsRunning => Engine.IsRunning;
    public long Acknowledged => Engine.Acknowledged;
    public long Unknown => Engine.Unknown;
    public long NotApplied => Engine.NotApplied;
    public long Reads => Engine.Reads;
    public IReadOnlyList<string> Errors => Engine.Errors;

    public override string ToString() => $"workload {KeyPrefix} on {ClusterName}: {Acknowledged} acknowledged, {Unknown} unknown";
}
