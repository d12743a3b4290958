using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using RaftPS.Node;
using RaftPS.Protocol;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    /// <summary>The line `raftps node` prints on stdout once it serves; the demo (and scripts) wait for it.</summary>
    internal static string ReadyLine(string nodeId, IPEndPoint endPoint, string clusterName) =>
        $"raftps node {nodeId} listening on {ClusterDefinition.FormatEndpoint(endPoint.Address.ToString(), endPoint.Port)} (cluster {clusterName})";

    private static readonly string[] LogLevels = ["trace", "debug", "info", "warning", "error"];

    private Command NodeCommand()
    {
        var id = new Option<string>("--id") { Description = "This node's id (e.g. n1).", Required = true };
        var cluster = new Option<string?>("--cluster", "-c")
        {
            Description = "Cluster file (JSON or 'id host port' lines). Needed at the first start of a founding member, which writes its " +
                          "members into the log; later starts take membership from the log (a disagreeing file only warns).",
            HelpName = "FILE",
        };
        var join = new Option<string?>("--join")
        {
            Description = "Join a running cluster: members to contact, host:port[,host:port...]. The node starts empty, waits to be " +
                          "added ('raftps member add ID HOST:PORT'), then catches up. Needs --listen.",
            HelpName = "LIST",
        };
        var listen = new Option<string?>("--listen") { Description = "This node's address, host:port (a joiner's; kept in the data directory).", HelpName = "HOST:PORT" };
        var clusterName = new Option<string?>("--cluster-name") { Description = $"Cluster name for a joiner without a cluster file (default '{ClusterDefinition.DefaultClusterName}').", HelpName = "NAME" };
        var data = new Option<string>("--data", "-d") { Description = "Data directory (write-ahead log and snapshots); created if missing.", Required = true, HelpName = "DIR" };
        var bind = new Option<string?>("--bind") { Description = "Address to bind instead of the member's host from the cluster file (e.g. 0.0.0.0).", HelpName = "ADDRESS" };
        var logLevel = new Option<string>("--log-level")
        {
            Description = "Log detail on stderr: 'info' shows elections, term changes, snapshots and recovery.",
            DefaultValueFactory = _ => "warning",
        };
        logLevel.AcceptOnlyFromAmong(LogLevels);
        var noFsync = new Option<bool>("--no-fsync") { Description = "Skip fsync. Acknowledged writes can be lost on power failure: experiments only." };
        var snapshotMb = PositiveInt("--snapshot-threshold-mb", "Take a snapshot once the log has grown by this many MiB.", 64, max: 1 << 20);
        var segmentMb = PositiveInt("--segment-mb", "Size of one write-ahead log segment file in MiB.", 64, max: 1 << 16);
        var tickMs = PositiveInt("--tick-ms", "Length of one consensus tick in ms (election timeout 30-60 ticks, heartbeat 10).", 5, max: 10_000);
        var allowFaults = new Option<bool>("--allow-fault-injection")
        {
            Description = "Accept 'raftps fault' requests (drop, delay, partition, suspend). For failure drills only: " +
                          "any client of the cluster can then cut this node off.",
        };

        var command = new Command("node", "Run one node of a cluster in the foreground until Ctrl+C or SIGTERM.\n" +
                                          "Prints 'raftps node ID listening on HOST:PORT (cluster NAME)' on stdout when it serves.")
        {
            id, cluster, data, join, listen, clusterName, bind, logLevel, noFsync, snapshotMb, segmentMb, tickMs, allowFaults,
        };
        var keys = new CredentialOptions();
        keys.AddNodeOptionsTo(command);
        command.SetAction((pr, ct) => Guarded(token => RunNodeAsync(new NodeArgs(
            pr.GetValue(id)!, pr.GetValue(cluster), pr.GetValue(data)!, pr.GetValue(bind), pr.GetValue(logLevel)!,
            pr.GetValue(noFsync), pr.GetValue(snapshotMb), pr.GetValue(segmentMb), pr.GetValue(tickMs), pr.GetValue(allowFaults),
            pr.GetValue(join), pr.GetValue(listen), pr.GetValue(clusterName))
            { Keys = keys.Files(pr), Insecure = pr.GetValue(keys.Insecure) }, token), json: false, ct));
        return command;
    }

    private static Option<int> PositiveInt(string name, string description, int defaultValue, int max)
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        option.Validators.Add(result =>
        {
            if (TryGetValue(result, out int value) && (value < 1 || value > max)) result.AddError($"{name} must be from 1 to {max}, got {value}");
        });
        return option;
    }

    /// <summary>
    /// The option's value for a validator. Validators also run when the token does not parse; the parser reports that
    /// itself, and reading the value would throw instead.
    /// </summary>
    private static bool TryGetValue<T>(System.CommandLine.Parsing.OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    private sealed record NodeArgs(string Id, string? ClusterFile, string DataDirectory, string? Bind, string LogLevel, bool NoFsync,
        int SnapshotThresholdMb, int SegmentMb, int TickMs, bool AllowFaultInjection, string? Join, string? Listen, string? ClusterName)
    {
        public CredentialOptions.KeyFiles Keys { get; init; } = new(null, null, null);
        public bool Insecure { get; init; }
    }

    private async Task<int> RunNodeAsync(NodeArgs a, CancellationToken cancellationToken)
    {
        var cluster = a.ClusterFile is null ? null : ClusterDefinition.Load(a.ClusterFile);
        IPAddress? bind = null;
        if (a.Bind is not null && !IPAddress.TryParse(a.Bind, out bind))
            throw new UsageException($"--bind '{a.Bind}' is not an IP address");
        if (!ClusterDefinition.IsValidId(a.Id)) throw new UsageException($"--id '{a.Id}' is not a valid node id");
        ClusterMember? listen = null;
        if (a.Listen is not null)
        {
            var ep = ClusterDefinition.ParseEndpoint(a.Listen);
            listen = new ClusterMember(a.Id, ep.Address.ToString(), ep.Port);
        }
        if (a.Join is not null && listen is null) throw new UsageException("--join needs --listen HOST:PORT (this node's address)");
        var joinEndpoints = a.Join is null ? null : ClusterDefinition.ParseEndpoints(a.Join);
        if (a.ClusterName is not null && cluster is not null && a.ClusterName != cluster.ClusterName)
            throw new UsageException($"--cluster-name '{a.ClusterName}' contradicts the name '{cluster.ClusterName}' in {a.ClusterFile}");
        bool firstStart = !File.Exists(Path.Combine(a.DataDirectory, RaftPS.Node.Membership.NodeIdentity.FileName));
        if (firstStart && cluster is null && joinEndpoints is null)
            throw new UsageException($"node {a.Id} has never run in {a.DataDirectory}: give --cluster FILE (founding member) or --join LIST --listen HOST:PORT (new member)");
        if (firstStart && cluster is not null && joinEndpoints is null && cluster.Find(a.Id) is null)
            throw new UsageException(
                $"node id '{a.Id}' is not a member of cluster '{cluster.ClusterName}' in {a.ClusterFile} (members: {string.Join(", ", cluster.Members.Select(m => m.Id))}); " +
                "to add a node to a running cluster start it with --join and --listen");
        var member = listen ?? cluster?.Find(a.Id) ?? new ClusterMember(a.Id, "127.0.0.1", 0);
        if (firstStart && cluster is not null && joinEndpoints is null)
            await RefuseBootstrapIntoRunningClusterAsync(a.Id, cluster, a.ClusterFile!, cancellationToken).ConfigureAwait(false);

        using var loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(ParseLevel(a.LogLevel))
            // Everything on stderr: stdout carries only the ready line, which scripts and the demo parse.
            .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            }));
        var options = new NodeOptions
        {
            NodeId = a.Id,
            Cluster = cluster,
            Join = joinEndpoints is not null && firstStart,
            Listen = listen,
            ClusterName = a.ClusterName,
            DataDirectory = a.DataDirectory,
            BindAddress = bind,
            Fsync = !a.NoFsync,
            SnapshotThresholdBytes = (long)a.SnapshotThresholdMb << 20,
            SegmentBytes = (long)a.SegmentMb << 20,
            TickInterval = TimeSpan.FromMilliseconds(a.TickMs),
            LoggerFactory = loggerFactory,
            AllowFaultInjection = a.AllowFaultInjection,
            Credentials = a.Keys.Load(),
            Insecure = a.Insecure,
        };
        if (a.NoFsync) _err.WriteLine($"warning: node {a.Id} runs without fsync; acknowledged writes can be lost on power failure");
        if (a.AllowFaultInjection) _err.WriteLine($"warning: node {a.Id} accepts fault injection; any client of the cluster can drop, delay or cut off its traffic (drills only)");

        RaftServer server;
        try
        {
            server = RaftServer.Start(options);
        }
        catch (InsecureConfigurationException e)
        {
            throw new UsageException(e.Message);
        }
        catch (SocketException e)
        {
            throw new IOException($"node {a.Id} cannot bind {member.Endpoint}: {e.Message}", e);
        }
        catch (Exception e) when (ExitCodes.For(e) == ExitCodes.StorageCorruption)
        {
            _err.WriteLine($"error: node {a.Id} cannot start: its data directory {Path.GetFullPath(a.DataDirectory)} is damaged.");
            _err.WriteLine("       Restore it from a backup or, if the rest of the cluster is healthy, remove this member ('raftps member remove ID')");
            _err.WriteLine("       and add a fresh node with a new id and an empty data directory ('raftps node --join', 'raftps member add').");
            throw;
        }

        using var reload = a.Keys.ReloadOnHangup(server, _err, member.Id);
        try
        {
            _out.WriteLine(ReadyLine(a.Id, server.EndPoint, server.ClusterName));
            _out.Flush();
            if (joinEndpoints is not null && server.Status.Joining)
                await AnnounceJoinAsync(a.Id, server, joinEndpoints, server.ClusterName, cancellationToken).ConfigureAwait(false);
            var interrupted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (cancellationToken.Register(() => interrupted.TrySetResult()).ConfigureAwait(false))
            {
                var first = await Task.WhenAny(server.Completion, interrupted.Task).ConfigureAwait(false);
                if (first == server.Completion)
                {
                    // The loop only ends by itself on a fatal error (fail-stop); rethrow it so it is reported and mapped.
                    await server.Completion.ConfigureAwait(false);
                    throw new InvalidOperationException($"node {a.Id} stopped unexpectedly");
                }
            }
            await server.StopAsync().ConfigureAwait(false);
            _out.WriteLine($"raftps node {a.Id} stopped");
            return ExitCodes.Success;
        }
        catch (Exception)
        {
            _err.WriteLine($"error: node {a.Id} stopped after a fatal error");
            await server.StopAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Before a founding member writes its first configuration from the file, ask the other members listed there: if any
    /// already runs with a different configuration (the file was edited, or this node should have joined), bootstrapping
    /// would give this node a different entry 1 than theirs. Members that do not answer yet are fine (a new cluster's
    /// members start in any order).
    /// </summary>
    private async Task RefuseBootstrapIntoRunningClusterAsync(string id, ClusterDefinition cluster, string file, CancellationToken ct)
    {
        var others = cluster.Members.Where(m => m.Id != id).ToArray();
        if (others.Length == 0) return;
        IReadOnlyList<NodeStatus> statuses;
        try
        {
            await using var client = new RaftPS.Client.RaftClient(RaftPS.Client.RaftClientOptions.For(cluster) with
            {
                Endpoints = others.Select(m => m.ResolveEndPoint()).ToArray(),
                Deadline = TimeSpan.FromMilliseconds(500), StatusTimeout = TimeSpan.FromMilliseconds(500), AttemptTimeout = TimeSpan.FromMilliseconds(250),
            });
            statuses = await client.ClusterStatusAsync(ct).ConfigureAwait(false);
        }
        catch (RaftPS.Client.RaftClientException)
        {
            return; // nobody up yet
        }
        var inFile = cluster.Members.Select(m => $"{m.Id}@{m.Endpoint}").Order().ToArray();
        foreach (var status in statuses.Where(s => s.Members.Count > 0))
        {
            var running = status.Members.Select(m => $"{m.Id}@{m.Endpoint}").Order().ToArray();
            if (running.SequenceEqual(inFile)) continue;
            throw new UsageException(
                $"cluster '{cluster.ClusterName}' already runs with members [{string.Join(", ", running)}] (as {status.Id} reports), but {file} lists " +
                $"[{string.Join(", ", inFile)}]; membership comes from the log, never from an edited file. To add {id}, start it with " +
                $"--join {string.Join(",", status.Members.Select(m => m.Endpoint))} --listen HOST:PORT and run 'raftps member add {id} HOST:PORT'");
        }
    }

    /// <summary>
    /// A joiner contacts the cluster once (through the client protocol) to check it is reachable and under this name, then
    /// says how to add it; the node itself waits for the leader's first append.
    /// </summary>
    private async Task AnnounceJoinAsync(string id, RaftServer server, IReadOnlyList<IPEndPoint> join, string clusterName, CancellationToken ct)
    {
        var endpoint = ClusterDefinition.FormatEndpoint(server.EndPoint.Address.ToString(), server.EndPoint.Port);
        try
        {
            await using var client = new RaftPS.Client.RaftClient(new RaftPS.Client.RaftClientOptions
            {
                Endpoints = join, ClusterName = clusterName, Deadline = TimeSpan.FromSeconds(5),
            }.Validate());
            var leader = await client.MembersAsync(ct).ConfigureAwait(false);
            _err.WriteLine($"node {id} is waiting to be added to cluster '{clusterName}' (leader {leader.Id}, members " +
                           $"{string.Join(", ", leader.Members.Select(m => m.Id))}): raftps member add {id} {endpoint} --endpoints {string.Join(",", join)}");
        }
        catch (RaftPS.Client.RaftClientException e)
        {
            _err.WriteLine($"warning: node {id} could not reach the cluster at {string.Join(", ", join)} yet ({e.Message}); it waits to be added: raftps member add {id} {endpoint}");
        }
    }

    private static LogLevel ParseLevel(string level) => level switch
    {
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Information,
        "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new UsageException($"unknown log level '{level}' (use {string.Join(", ", LogLevels)})"),
    };
}
