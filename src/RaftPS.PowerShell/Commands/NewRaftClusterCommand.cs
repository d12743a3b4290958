using System.Management.Automation;
using System.Net;
using System.Text.Json;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Creates a cluster file for a new cluster and optionally starts its nodes on this machine.</summary>
/// <remarks>
/// <para>Writes -Path/cluster.json (JSON) with -Nodes members named n1, n2, ... on -Address, on ports -BasePort,
/// -BasePort+1, ... or, without -BasePort, on free UDP ports the system picks. With -Start it then starts every node
/// as a background process (data in -Path/n1, ..., logs in -Path/n1.log, ...) and waits until each answers; if one
/// fails to start, the ones already started are killed. It emits a RaftPS.ClusterInfo whose Nodes property holds the
/// RaftPS.NodeProcess objects, ready for Stop-RaftNode. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>New-RaftCluster -Name demo -Nodes 3 -BasePort 7001</code>
/// <para>Writes ./demo/cluster.json for three nodes on 127.0.0.1:7001-7003, to start in three terminals with Start-RaftNode.</para>
/// </example>
/// <example>
/// <code>$cluster = New-RaftCluster -Name drill -Nodes 5 -Path /tmp/drill -Start -AllowFaultInjection
/// Connect-RaftCluster -ClusterFile $cluster.ClusterFile
/// $cluster.Nodes | Stop-RaftNode</code>
/// <para>Starts a five-node cluster for a drill on free ports, connects to it, and stops it again.</para>
/// </example>
[Cmdlet(VerbsCommon.New, "RaftCluster", SupportsShouldProcess = true)]
[OutputType(typeof(ClusterInfo))]
public sealed class NewRaftClusterCommand : RaftCmdlet
{
    /// <summary>The cluster's name; nodes and clients of other clusters ignore its traffic.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidatePattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    public string Name { get; set; } = "";

    /// <summary>Number of members (1 to 15; 3 or 5 survive one or two failures).</summary>
    [Parameter(Position = 1)]
    [ValidateRange(1, 15)]
    public int Nodes { get; set; } = 3;

    /// <summary>Port of the first member; the others follow it. Free ports are picked when omitted.</summary>
    [Parameter]
    [ValidateRange(1, 65535)]
    public int BasePort { get; set; }

    /// <summary>Directory for the cluster file, the data directories and the logs (created; default ./Name).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    /// <summary>IP address every member listens on (default 127.0.0.1).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Start every node as a background process on this machine.</summary>
    [Parameter]
    public SwitchParameter Start { get; set; }

    /// <summary>With -Start: let Set-RaftFault inject faults into the nodes (failure drills only).</summary>
    [Parameter]
    public SwitchParameter AllowFaultInjection { get; set; }

    /// <summary>With -Start: how long to wait for each node to answer, in seconds (default 90).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 90;

    /// <summary>Overwrite an existing cluster file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        if (!IPAddress.TryParse(Address, out var address))
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"-Address '{Address}' is not an IP address.", Address);
        if (BasePort > 0 && BasePort + Nodes - 1 > 65535)
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, $"Ports {BasePort}..{BasePort + Nodes - 1} do not fit below 65536.", BasePort);
        string dir = GetUnresolvedProviderPathFromPSPath(Path ?? Name);
        string file = System.IO.Path.Combine(dir, "cluster.json");
        if (File.Exists(file) && !Force)
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.ResourceExists, $"{file} exists already; -Force overwrites it.", file);
        if (!ShouldProcess(file, $"Create cluster '{Name}' with {Nodes} members{(Start ? " and start them" : "")}")) return;

        int[] ports = BasePort > 0 ? Enumerable.Range(BasePort, Nodes).ToArray() : FreePorts.Udp(Nodes, address);
        var members = Enumerable.Range(0, Nodes).Select(i => new ClusterMember($"n{i + 1}", address!.ToString(), ports[i])).ToArray();
        var cluster = RunOrThrow(() => new ClusterDefinition(Name, members), Name);
        RunOrThrow(() =>
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(file, ToJson(cluster));
            return ClusterDefinition.Load(file);
        }, file);
        var started = Start ? StartAll(cluster, dir, file) : [];
        WriteObject(new ClusterInfo
        {
            Name = Name,
            ClusterFile = file,
            Path = dir,
            Members = members.Select(m => new Member { Id = m.Id, Endpoint = m.Endpoint, Role = "Voter" }).ToArray(),
            Nodes = started,
        });
    }

    /// <summary>Starts every node at once (each pwsh takes seconds to start), then waits for each to answer.</summary>
    private List<NodeProcess> StartAll(ClusterDefinition cluster, string dir, string file)
    {
        var launched = new List<LaunchedNode>();
        var started = new List<NodeProcess>();
        var progress = new ProgressRecord(5, $"Starting cluster '{Name}'", "starting");
        try
        {
            foreach (var m in cluster.Members)
            {
                string data = System.IO.Path.Combine(dir, m.Id);
                launched.Add(NodeLauncher.Launch(new BackgroundNodeSpec(m.Id, file, data, data + ".log", AllowFaultInjection, NoFsync: false)));
            }
            foreach (var node in launched)
            {
                progress.StatusDescription = $"waiting for node {node.Id}";
                progress.PercentComplete = 100 * started.Count / cluster.Members.Count;
                WriteProgress(progress);
                started.Add(node.WaitReady(TimeSpan.FromSeconds(TimeoutSeconds), StopToken));
            }
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
            return started;
        }
        catch (Exception e)
        {
            foreach (var node in launched) node.Kill();
            foreach (var n in started) NodeProcessRegistry.Remove(n.Pid);
            if (e is OperationCanceledException && StopToken.IsCancellationRequested) throw new PipelineStoppedException();
            if (e is PipelineStoppedException) throw;
            ThrowTerminatingError(new ErrorRecord(e, RaftErrorId.NodeStartFailed, ErrorCategory.OpenError, Name));
            throw;
        }
    }

    private static string ToJson(ClusterDefinition cluster)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("cluster", cluster.ClusterName);
            json.WriteStartArray("members");
            foreach (var m in cluster.Members)
            {
                json.WriteStartObject();
                json.WriteString("id", m.Id);
                json.WriteString("host", m.Host);
                json.WriteNumber("port", m.Port);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }
}
