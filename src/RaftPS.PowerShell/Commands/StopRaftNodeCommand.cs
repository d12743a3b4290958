using System.Diagnostics;
using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Stops background nodes started with Start-RaftNode -Background.</summary>
/// <remarks>
/// <para>Stops nodes cleanly: the node gets SIGTERM, finishes what it is writing, releases its port and data
/// directory, and its process exits; the cmdlet waits for that (up to -TimeoutSeconds). -Force kills the process at
/// once (kill -9), as a crash would; the node recovers everything it acknowledged on its next start. On Windows a
/// node is always killed.</para>
/// <para>Nodes come from the pipeline (the RaftPS.NodeProcess objects of Start-RaftNode or New-RaftCluster -Start) or
/// by -Id from the nodes this session started. A node whose process has already exited is skipped. Supports -WhatIf
/// and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>$cluster.Nodes | Stop-RaftNode</code>
/// <para>Stops every node of a cluster started with New-RaftCluster -Start.</para>
/// </example>
/// <example>
/// <code>Stop-RaftNode -Id n1 -Force</code>
/// <para>Kills node n1 (started in this session) as a crash would, for a failure drill.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Stop, "RaftNode", SupportsShouldProcess = true, DefaultParameterSetName = ByProcess)]
[OutputType(typeof(void))]
public sealed class StopRaftNodeCommand : RaftCmdlet
{
    private const string ByProcess = "Process";
    private const string ById = "Id";

    /// <summary>The nodes to stop, as Start-RaftNode -Background returned them. Binds from the pipeline.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ByProcess)]
    [ValidateNotNull]
    public NodeProcess[] InputObject { get; set; } = [];

    /// <summary>Ids of nodes this session started in the background; wildcards allowed.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ById)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Id { get; set; } = [];

    /// <summary>Kill the process at once (kill -9) instead of stopping the node cleanly.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>How long to wait for each process to exit, in seconds (default 30).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 30;

    protected override void ProcessRecord()
    {
        foreach (var node in Targets()) Stop(node);
    }

    private IEnumerable<NodeProcess> Targets()
    {
        if (ParameterSetName == ByProcess) return InputObject;
        var running = NodeProcessRegistry.Running();
        var result = new List<NodeProcess>();
        foreach (var id in Id)
        {
            var pattern = WildcardPattern.Get(id, WildcardOptions.IgnoreCase);
            var matches = running.Where(n => pattern.IsMatch(n.Id)).ToArray();
            if (matches.Length == 0 && !WildcardPattern.ContainsWildcardCharacters(id))
                Fail(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, $"No running background node with id '{id}' was started in this session.", id);
            result.AddRange(matches.Where(m => !result.Contains(m)));
        }
        return result;
    }

    private void Stop(NodeProcess node)
    {
        using var process = ProcessSignals.Find(node.Pid, node.StartTime);
        if (process is null)
        {
            WriteVerbose($"Node {node.Id} (pid {node.Pid}) is not running.");
            NodeProcessRegistry.Remove(node.Pid);
            return;
        }
        if (!ShouldProcess($"node {node.Id} (pid {node.Pid})", Force ? "Kill" : "Stop")) return;
        try
        {
            if (Force) process.Kill(entireProcessTree: true);
            else ProcessSignals.Terminate(process);
            if (!WaitForExit(process))
            {
                Fail(RaftErrorId.NodeStopFailed, ErrorCategory.OperationTimeout,
                    $"Node {node.Id} (pid {node.Pid}) did not exit within {TimeoutSeconds} s; Stop-RaftNode -Force kills it. Its log: {node.LogPath}", node);
                return;
            }
            NodeProcessRegistry.Remove(node.Pid);
            WriteVerbose($"Node {node.Id} (pid {node.Pid}) stopped.");
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            WriteError(new ErrorRecord(e, RaftErrorId.NodeStopFailed, ErrorCategory.CloseError, node));
        }
    }

    /// <summary>Waits for the exit in short steps so Ctrl+C ends the wait at once.</summary>
    private bool WaitForExit(Process process)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < TimeoutSeconds)
        {
            if (process.WaitForExit(100)) return true;
            if (StopToken.IsCancellationRequested) throw new PipelineStoppedException();
        }
        return process.HasExited;
    }
}
