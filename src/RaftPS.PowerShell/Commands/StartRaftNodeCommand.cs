using System.Management.Automation;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using RaftPS.Node;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Runs a node of a RaftPS cluster, in this terminal or as a background process.</summary>
/// <remarks>
/// <para>Without -Background the node runs inside this PowerShell until Ctrl+C or SIGTERM, showing a live status line
/// (role, term, leader, commit and applied index); warnings of the node are shown as they happen. Stopping it,
/// also after a fatal error, releases its port and the lock on its data directory. The node always recovers from
/// its data directory, so starting it again continues where it stopped.</para>
/// <para>With -Background the node runs in a separate PowerShell process (the same pwsh that runs this session; no
/// .NET SDK is needed) that outlives this session. The cmdlet returns a RaftPS.NodeProcess (Id, Endpoint, Pid,
/// DataPath, LogPath) as soon as the node answers; Stop-RaftNode stops it cleanly, Stop-RaftNode -Force kills it.
/// Its log goes to -LogPath (by default the data directory's path with .log appended).</para>
/// <para>A founding member needs -ClusterFile on its first start; a new member of a running cluster starts with -Join
/// (members to contact) and -Listen (its own address) and waits until Add-RaftMember adds it. Later starts need only
/// -Id and -DataPath: membership is recovered from the node's own log.</para>
/// <para>-AllowFaultInjection lets Set-RaftFault drop, delay, partition or suspend the node's traffic; use it only for
/// failure drills.</para>
/// </remarks>
/// <example>
/// <code>Start-RaftNode -Id n1 -ClusterFile ./cluster.json -DataPath ./data/n1</code>
/// <para>Runs node n1 in this terminal until Ctrl+C. Run n2 and n3 the same way in two more terminals.</para>
/// </example>
/// <example>
/// <code>$nodes = 'n1', 'n2', 'n3' | ForEach-Object { Start-RaftNode -Id $_ -ClusterFile ./cluster.json -DataPath ./data/$_ -Background }
/// $nodes | Stop-RaftNode</code>
/// <para>Starts three nodes as background processes and later stops them all cleanly.</para>
/// </example>
/// <example>
/// <code>Start-RaftNode -Id n4 -DataPath ./data/n4 -Join 127.0.0.1:7001 -Listen 127.0.0.1:7004 -ClusterName demo -Background
/// Add-RaftMember -Id n4 -Endpoint 127.0.0.1:7004</code>
/// <para>Starts a new node that joins a running cluster, then adds it: it catches up as a learner and becomes a voter.</para>
/// </example>
/// <example>
/// <code>Start-RaftNode -Id n1 -ClusterFile ./cluster.json -DataPath ./data/n1 -Background -AllowFaultInjection -LogPath ./logs/n1.log</code>
/// <para>Starts a node for a failure drill, with its log in a chosen file.</para>
/// </example>
[Cmdlet(VerbsLifecycle.Start, "RaftNode", SupportsShouldProcess = true, DefaultParameterSetName = ForegroundSet)]
[OutputType(typeof(NodeProcess), ParameterSetName = [BackgroundSet])]
public sealed class StartRaftNodeCommand : RaftCmdlet
{
    private const string ForegroundSet = "Foreground";
    private const string BackgroundSet = "Background";
    private static readonly TimeSpan StatusEvery = TimeSpan.FromMilliseconds(500);

    /// <summary>This node's id in the cluster file (for example n1).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string Id { get; set; } = "";

    /// <summary>The cluster file (JSON or one "id host port" per line) of a founding member: its members become the cluster's first configuration on the node's first start. Not needed for a joiner or a restart.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? ClusterFile { get; set; }

    /// <summary>Start a new member that joins a running cluster: addresses (host:port) of current members to contact. The node starts empty and waits for Add-RaftMember. Needs -Listen.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? Join { get; set; }

    /// <summary>This node's own address as host:port (a joiner's; kept in its data directory for restarts).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Listen { get; set; }

    /// <summary>Cluster name for a joiner without a cluster file (default raftps); it must match the cluster's.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ClusterName { get; set; }

    /// <summary>The node's data directory (write-ahead log and snapshots); created when missing.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string DataPath { get; set; } = "";

    /// <summary>Run the node as a separate process and return a RaftPS.NodeProcess once it answers.</summary>
    [Parameter(Mandatory = true, ParameterSetName = BackgroundSet)]
    public SwitchParameter Background { get; set; }

    /// <summary>Append the node's log here. Background nodes default to the data directory's path with .log appended; a foreground node without it shows only warnings.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? LogPath { get; set; }

    /// <summary>Accept fault injection (Set-RaftFault) from any client of the cluster. For failure drills only.</summary>
    [Parameter]
    public SwitchParameter AllowFaultInjection { get; set; }

    /// <summary>Acknowledge writes without fsync. Acknowledged writes can be lost on power failure: experiments only.</summary>
    [Parameter]
    public SwitchParameter NoFsync { get; set; }

    /// <summary>
    /// Allow binding a non-loopback address without a peer key (no encryption between members). Logged loudly; never for
    /// a shared network.
    /// </summary>
    [Parameter]
    public SwitchParameter Insecure { get; set; }

    /// <summary>File with the peer secret(s) only members hold, one per line, the first current (raftps keygen makes one).</summary>
    [Parameter]
    public string? PeerKeyFile { get; set; }

    /// <summary>File with the client secret(s) that data clients use.</summary>
    [Parameter]
    public string? ClientKeyFile { get; set; }

    /// <summary>File with the admin secret(s) for membership, leadership transfer, fault injection and snapshots.</summary>
    [Parameter]
    public string? AdminKeyFile { get; set; }

    /// <summary>With -Background: how long to wait for the node to answer, in seconds (default 60).</summary>
    [Parameter(ParameterSetName = BackgroundSet)]
    [ValidateRange(1, 3600)]
    public int TimeoutSeconds { get; set; } = 60;

    protected override void ProcessRecord()
    {
        string? clusterFile = ClusterFile is null ? null : GetUnresolvedProviderPathFromPSPath(ClusterFile);
        string dataPath = GetUnresolvedProviderPathFromPSPath(DataPath);
        string? logPath = LogPath is null ? null : GetUnresolvedProviderPathFromPSPath(LogPath);
        if (Join is not null && Listen is null)
            Terminate(RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, "-Join needs -Listen host:port (this node's address).", Id);
        // The same checks for both modes, so a background start fails here with the same ErrorIds as a foreground one.
        var options = RunOrThrow(() => NodeOptionsFor(clusterFile, dataPath), Id);
        if (!ShouldProcess($"node {Id} with data in {dataPath}", Background ? "Start background node" : "Run node")) return;
        if (Background) StartBackground(clusterFile, dataPath, logPath ?? dataPath.TrimEnd('/', '\\') + ".log");
        else RunForeground(options, logPath);
    }

    private void StartBackground(string? clusterFile, string dataPath, string logPath)
    {
        var spec = new BackgroundNodeSpec(Id, clusterFile, dataPath, logPath, AllowFaultInjection, NoFsync, Join, Listen, ClusterName, Insecure,
            Resolve(PeerKeyFile), Resolve(ClientKeyFile), Resolve(AdminKeyFile));
        try
        {
            WriteObject(NodeLauncher.Start(spec, TimeSpan.FromSeconds(TimeoutSeconds), StopToken));
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (TimeoutException e)
        {
            WriteError(new ErrorRecord(e, RaftErrorId.NodeStartFailed, ErrorCategory.OperationTimeout, Id));
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception || RaftErrors.IsExpected(e))
        {
            var record = RaftErrors.IsExpected(e) && e is not IOException ? RaftErrors.From(e, Id) : new ErrorRecord(e, RaftErrorId.NodeStartFailed, ErrorCategory.OpenError, Id);
            WriteError(record);
        }
    }

    private void RunForeground(NodeOptions options, string? logPath)
    {
        using var log = new FileLoggerFactory(logPath, logPath is null ? LogLevel.Warning : LogLevel.Information);
        var server = StartServer(options with { LoggerFactory = log }, log);
        // SIGTERM would end pwsh without running any finally block: take it over and stop the node cleanly instead.
        using var terminated = new CancellationTokenSource();
        using var sigterm = RegisterSigterm(terminated);
        string endpoint = ClusterDefinition.FormatEndpoint(server.EndPoint.Address.ToString(), server.EndPoint.Port);
        string ready = $"raftps node {Id} listening on {endpoint} (cluster {server.ClusterName})";
        log.Write(ready);
        Exception? failure = null;
        try
        {
            Host.UI.WriteLine(ready + (Host.Name == "ConsoleHost" ? "; Ctrl+C stops it" : ""));
            var progress = new ProgressRecord(3, $"RaftPS node {Id} on {endpoint}", "starting");
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(StopToken, terminated.Token);
            var handles = new[] { wake.Token.WaitHandle, ((IAsyncResult)server.Completion).AsyncWaitHandle };
            while (!wake.IsCancellationRequested && !server.Completion.IsCompleted)
            {
                while (log.Warnings.TryDequeue(out var warning)) WriteWarning($"{Id}: {warning}");
                progress.StatusDescription = Describe(server.Status);
                WriteProgress(progress);
                WaitHandle.WaitAny(handles, StatusEvery);
            }
            if (server.Completion.IsFaulted) failure = server.Completion.Exception!.GetBaseException();
        }
        finally
        {
            server.StopAsync().GetAwaiter().GetResult();
            log.Write(failure is null ? $"raftps node {Id} stopped" : $"raftps node {Id} stopped after a fatal error: {failure.Message}");
        }
        if (failure is not null)
            ThrowTerminatingError(new ErrorRecord(failure, RaftErrorId.NodeFailed, ErrorCategory.InvalidResult, Id));
        if (!StopToken.IsCancellationRequested) Host.UI.WriteLine($"raftps node {Id} stopped");
    }

    /// <summary>
    /// The node's options, by the same rules as `raftps node`: a founding member's first start needs the cluster file, a
    /// joiner -Join and -Listen; later starts recover everything, membership included, from the data directory.
    /// </summary>
    private NodeOptions NodeOptionsFor(string? clusterFile, string dataPath)
    {
        var cluster = clusterFile is null ? null : ClusterDefinition.Load(clusterFile);
        ClusterMember? listen = null;
        if (Listen is not null)
        {
            var ep = ClusterDefinition.ParseEndpoint(Listen);
            listen = new ClusterMember(Id, ep.Address.ToString(), ep.Port);
        }
        if (ClusterName is not null && cluster is not null && ClusterName != cluster.ClusterName)
            throw new ArgumentException($"-ClusterName '{ClusterName}' contradicts the name '{cluster.ClusterName}' in {clusterFile}");
        bool firstStart = !File.Exists(Path.Combine(dataPath, RaftPS.Node.Membership.NodeIdentity.FileName));
        if (firstStart && cluster is null && Join is null)
            throw new ArgumentException($"node {Id} has never run in {dataPath}: give -ClusterFile (founding member) or -Join and -Listen (new member)");
        if (firstStart && cluster is not null && Join is null && cluster.Find(Id) is null)
        {
            Terminate(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound,
                $"Node id '{Id}' is not a member of cluster '{cluster.ClusterName}' in {clusterFile} (members: {string.Join(", ", cluster.Members.Select(m => m.Id))}); a new member starts with -Join and -Listen.", Id);
        }
        return new NodeOptions
        {
            NodeId = Id,
            Cluster = cluster,
            Join = Join is not null && firstStart,
            Listen = listen,
            ClusterName = ClusterName,
            DataDirectory = dataPath,
            Fsync = !NoFsync,
            AllowFaultInjection = AllowFaultInjection,
            Insecure = Insecure,
            Credentials = Credentials(cluster),
        };
    }

    private string? Resolve(string? path) => path is null ? null : GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Secrets by role from the key files (the cluster file's key, if any, stays a client secret).</summary>
    private ClusterCredentials Credentials(ClusterDefinition? cluster)
    {
        static IReadOnlyList<string> Load(string? file) => file is null ? [] : ClusterCredentials.LoadKeyFile(file);
        var credentials = new ClusterCredentials { Peer = Load(Resolve(PeerKeyFile)), Client = Load(Resolve(ClientKeyFile)), Admin = Load(Resolve(AdminKeyFile)) };
        return cluster?.Key is { Length: > 0 } key && credentials.Client.Count == 0 ? credentials.WithClientSecret(key) : credentials;
    }

    private RaftServer StartServer(NodeOptions options, FileLoggerFactory log)
    {
        try
        {
            return RaftServer.Start(options);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            log.Write($"cannot bind: {e.Message}");
            ThrowTerminatingError(new ErrorRecord(new IOException($"node {Id} cannot bind its address: {e.Message}", e),
                RaftErrorId.NodeStartFailed, ErrorCategory.ResourceUnavailable, Id));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException || RaftErrors.IsExpected(e))
        {
            log.Write($"cannot start: {e.Message}");
            ThrowTerminatingError(new ErrorRecord(e, RaftErrorId.NodeStartFailed, ErrorCategory.OpenError, Id));
        }
        throw new InvalidOperationException("not reached");
    }

    private static PosixSignalRegistration? RegisterSigterm(CancellationTokenSource terminated)
    {
        try
        {
            return PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                terminated.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    private static string Describe(NodeStatus s) =>
        $"{s.Role}, term {s.Term}, leader {(string.IsNullOrEmpty(s.Leader) ? "unknown" : s.Leader)}, commit {s.CommitIndex}, applied {s.AppliedIndex}, {s.Members.Count} members";
}
