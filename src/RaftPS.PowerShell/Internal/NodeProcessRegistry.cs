using System.Collections.Concurrent;
using System.Diagnostics;

namespace RaftPS.PowerShell;

/// <summary>
/// Background nodes started by this process, so Stop-RaftNode -Id finds them. The Process objects stay referenced:
/// their output readers keep draining the child's pipes while this session lives.
/// </summary>
internal static class NodeProcessRegistry
{
    private static readonly ConcurrentDictionary<int, (NodeProcess Node, Process Process)> Nodes = new();

    public static void Add(NodeProcess node, Process process) => Nodes[node.Pid] = (node, process);

    public static void Remove(int pid)
    {
        if (Nodes.TryRemove(pid, out var entry)) entry.Process.Dispose();
    }

    /// <summary>Started nodes whose process still runs, in start order.</summary>
    public static IReadOnlyList<NodeProcess> Running()
    {
        foreach (var (pid, entry) in Nodes)
        {
            bool exited;
            try { exited = entry.Process.HasExited; } catch (InvalidOperationException) { exited = true; }
            if (exited) Remove(pid);
        }
        return Nodes.Values.Select(e => e.Node).OrderBy(n => n.StartTime).ToArray();
    }
}
