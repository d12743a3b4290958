using System.Net;
using RaftPS.Node;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Integration;

/// <summary>A cluster of in-process <see cref="RaftServer"/>s on 127.0.0.1 with free ports and temp data directories.</summary>
public sealed class InProcessCluster : IAsyncDisposable
{
    private readonly Func<string, NodeOptions, NodeOptions> _configure;

    private InProcessCluster(ClusterDefinition cluster, string root, Func<string, NodeOptions, NodeOptions> configure)
    {
        Cluster = cluster;
        Root = root;
        _configure = configure;
    }

    public ClusterDefinition Cluster { get; }
    public string Root { get; }
    public Dictionary<string, RaftServer?> Servers { get; } = new();

    /// <param name="host">The members' host in the cluster file: an address, or a name such as "localhost" (resolved by DNS).</param>
    public static InProcessCluster Start(int size, Func<string, NodeOptions, NodeOptions>? configure = null, string? clusterName = null, string host = "127.0.0.1")
    {
        var ports = FreePorts.Udp(size);
        var members = Enumerable.Range(1, size).Select(i => new ClusterMember($"n{i}", host, ports[i - 1]));
        var cluster = new ClusterDefinition(clusterName ?? "test-" + Guid.NewGuid().ToString("N")[..8], members);
        var root = Path.Combine(Path.GetTempPath(), "raftps-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var c = new InProcessCluster(cluster, root, configure ?? ((_, o) => o));
        foreach (var m in cluster.Members) c.StartNode(m.Id);
        return c;
    }

    public RaftServer StartNode(string id)
    {
        var options = _configure(id, new NodeOptions { NodeId = id, Cluster = Cluster, DataDirectory = Path.Combine(Root, id) });
        var s = RaftServer.Start(options);
        Servers[id] = s;
        return s;
    }

    public async Task StopNodeAsync(string id)
    {
        if (Servers.TryGetValue(id, out var s) && s is not null)
        {
            await s.StopAsync();
            Servers[id] = null;
        }
    }

    public IReadOnlyList<IPEndPoint> EndPoints => Cluster.Members.Select(m => m.ResolveEndPoint()).ToArray();

    /// <summary>Waits (bounded) until one running node reports itself leader and the others agree.</summary>
    public async Task<RaftServer> WaitForLeaderAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            var running = Servers.Values.Where(s => s is not null).Select(s => s!).ToArray();
            var leader = running.FirstOrDefault(s => s.Status.Role == "Leader");
            if (leader is not null && running.All(s => s.Status.Leader == leader.NodeId || s.Status.Term < leader.Status.Term))
                return leader;
            await Task.Delay(20);
        }
        throw new TimeoutException("no leader elected in time: " + string.Join(", ", Servers.Select(kv => $"{kv.Key}={kv.Value?.Status.Role}")));
    }


    public async ValueTask DisposeAsync()
    {
        foreach (var id in Servers.Keys.ToArray()) await StopNodeAsync(id);
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
