using System.Diagnostics;
using RaftPS.Client;

namespace RaftPS.PowerShell;

/// <summary>A background node whose process was started and which may not answer yet.</summary>
internal sealed class LaunchedNode(BackgroundNodeSpec spec, RaftClientOptions options, string endpoint, Process process, NodeLauncher.OutputTail output)
{
    public string Id => spec.Id;

    /// <summary>Waits until the node answers a status request; on failure (exit, timeout, Ctrl+C) kills it and throws.</summary>
    public NodeProcess WaitReady(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            NodeLauncher.WaitReady(process, options, endpoint, spec, timeout, output, cancellationToken);
            var node = new NodeProcess
            {
                Id = spec.Id,
                Endpoint = endpoint,
                Pid = process.Id,
                DataPath = spec.DataPath,
                LogPath = spec.LogPath,
                ClusterFile = spec.ClusterFile,
                StartTime = process.StartTime,
            };
            NodeProcessRegistry.Add(node, process);
            return node;
        }
        catch
        {
            Kill();
            throw;
        }
    }

    public void Kill() => NodeLauncher.Kill(process);
}
