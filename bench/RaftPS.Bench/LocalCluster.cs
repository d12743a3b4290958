using System.Diagnostics;
using System.Net;
using RaftPS.Protocol;

namespace RaftPS.Bench;

/// <summary>The cluster could not be started or a node died; carries the node's last output lines.</summary>
public sealed class ClusterStartException(string message) : Exception(message);

/// <summary>
/// A cluster of real `raftps node` processes on loopback, with data directories in a temporary directory on disk. The
/// bench talks to it only over UDP, exactly as any client would. Disposing kills every node that is still running and
/// removes the directory.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private const string ReadyMarker = "listening on";

    private readonly NodeProcess[] _nodes;
    private readonly string _root;
    private readonly bool _keep;
    private int _disposed;

    private LocalCluster(ClusterDefinition cluster, NodeProcess[] nodes, string root, bool keep)
    {
        Cluster = cluster;
        _nodes = nodes;
        _root = root;
        _keep = keep;
        // Backstop for paths that skip the finally (Environment.Exit, an unhandled exception on another thread).
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public ClusterDefinition Cluster { get; }
    public string Directory => _root;
    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    /// <summary>The node serving <paramref name="endpoint"/>, or null.</summary>
    public NodeProcess? NodeAt(IPEndPoint endpoint) =>
        Array.Find(_nodes, n => n.EndPoint.Port == endpoint.Port && (n.EndPoint.Address.Equals(endpoint.Address) ||
            (endpoint.Address.IsIPv4MappedToIPv6 && endpoint.Address.MapToIPv4().Equals(n.EndPoint.Address))));

    /// <summary>Starts <paramref name="count"/> nodes and waits until each prints its ready line.</summary>
    public static async Task<LocalCluster> StartAsync(BenchOptions options, int count, CancellationToken ct)
    {
        var (fileName, prefixArgs) = ResolveRaftPs(options.RaftPsPath, ct);
        string parent = Path.GetFullPath(options.WorkDirectory ?? Path.GetTempPath());
        string root = System.IO.Directory.CreateDirectory(Path.Combine(parent, $"raftps-bench-{Environment.ProcessId}-{Random.Shared.Next():x8}")).FullName;
        var ports = FreePorts.Udp(count);
        var members = Enumerable.Range(0, count).Select(i => new ClusterMember($"n{i + 1}", "127.0.0.1", ports[i])).ToArray();
        var cluster = new ClusterDefinition("bench", members);
        string clusterFile = Path.Combine(root, "cluster.json");
        cluster.Save(clusterFile);

        var nodes = new NodeProcess[count];
        var result = new LocalCluster(cluster, nodes, root, options.KeepData);
        try
        {
            for (int i = 0; i < count; i++)
            {
                string data = Path.Combine(root, members[i].Id);
                var args = new List<string>(prefixArgs) { "node", "--id", members[i].Id, "--cluster", clusterFile, "--data", data };
                if (!options.Fsync) args.Add("--no-fsync");
                args.AddRange(options.NodeArgs);
                nodes[i] = NodeProcess.Start(members[i], fileName, args, Path.Combine(root, members[i].Id + ".log"));
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(StartTimeout);
            try
            {
                await Task.WhenAll(nodes.Select(n => n.WaitReadyAsync(timeout.Token))).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                var late = nodes.Where(n => !n.IsReady).Select(n => $"{n.Member.Id}:\n{n.Tail()}");
                throw new ClusterStartException($"nodes not ready within {StartTimeout.TotalSeconds:0} s (no '{ReadyMarker}' line):\n{string.Join("\n", late)}");
            }
            return result;
        }
        catch
        {
            await result.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts an empty node that joins this cluster (`raftps node --join`); the caller adds, stops and disposes it.</summary>
    public async Task<NodeProcess> StartJoinerAsync(string id, BenchOptions options, CancellationToken ct)
    {
        var (fileName, prefixArgs) = ResolveRaftPs(options.RaftPsPath, ct);
        var member = new ClusterMember(id, "127.0.0.1", FreePorts.Udp(1)[0]);
        var args = new List<string>(prefixArgs)
        {
            "node", "--id", id, "--data", Path.Combine(_root, id), "--listen", member.Endpoint, "--cluster-name", Cluster.ClusterName,
            "--join", string.Join(",", Cluster.Members.Select(m => m.Endpoint)),
        };
        if (!options.Fsync) args.Add("--no-fsync");
        args.AddRange(options.NodeArgs);
        var node = NodeProcess.Start(member, fileName, args, Path.Combine(_root, id + ".log"));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(StartTimeout);
        try
        {
            await node.WaitReadyAsync(timeout.Token).ConfigureAwait(false);
        }
        catch
        {
            node.Kill();
            node.Dispose();
            throw;
        }
        return node;
    }

    /// <summary>SIGKILL, like `kill -9`: no shutdown code runs in the node.</summary>
    public static void KillHard(NodeProcess node) => node.Kill();

    /// <summary>Nodes that died although nobody killed them (a crash during the run invalidates it).</summary>
    public IEnumerable<NodeProcess> UnexpectedExits() => _nodes.Where(n => n is not null && n.HasExited && !n.KilledByUs);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        foreach (var n in _nodes) n?.Kill();
        foreach (var n in _nodes)
            if (n is not null) await n.WaitExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        foreach (var n in _nodes) n?.Dispose();
        if (_keep)
        {
            Console.Error.WriteLine($"bench: kept cluster directory {_root}");
            return;
        }
        for (int attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                if (System.IO.Directory.Exists(_root)) System.IO.Directory.Delete(_root, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 4)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"bench: could not remove {_root}: {e.Message}");
                return;
            }
        }
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        foreach (var n in _nodes) n?.Kill();
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Program and leading arguments that run raftps: `dotnet raftps.dll` for a dll, the file itself otherwise.</summary>
    private static (string FileName, string[] PrefixArgs) ResolveRaftPs(string? given, CancellationToken ct)
    {
        string path;
        if (given is not null)
        {
            path = Path.GetFullPath(given);
            if (!File.Exists(path)) throw new ClusterStartException($"--raftps '{given}' does not exist");
        }
        else
        {
            string repo = FindRepoRoot() ?? throw new ClusterStartException(
                "cannot find the repository root (RaftPS.sln) from the current or the bench's directory; pass --raftps PATH");
            path = Path.Combine(repo, "src", "RaftPS.Cli", "bin", "Release", "net10.0", "raftps.dll");
            if (!File.Exists(path)) BuildCli(repo, ct);
            if (!File.Exists(path)) throw new ClusterStartException($"building src/RaftPS.Cli did not produce {path}");
        }
        return path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? (DotnetHost(), [path]) : (path, []);
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string? FindRepoRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "RaftPS.sln")) || File.Exists(Path.Combine(dir.FullName, "RaftPS.slnx"))) return dir.FullName;
            }
        }
        return null;
    }

    private static void BuildCli(string repo, CancellationToken ct)
    {
        Console.Error.WriteLine("bench: raftps.dll not found, building src/RaftPS.Cli (Release)...");
        var psi = new ProcessStartInfo(DotnetHost(), ["build", Path.Combine(repo, "src", "RaftPS.Cli"), "-c", "Release", "-v", "q", "-nologo"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new ClusterStartException("could not start dotnet build");
        var output = p.StandardOutput.ReadToEndAsync(ct);
        var errors = p.StandardError.ReadToEndAsync(ct);
        p.WaitForExitAsync(ct).GetAwaiter().GetResult();
        if (p.ExitCode != 0)
            throw new ClusterStartException($"dotnet build src/RaftPS.Cli failed ({p.ExitCode}):\n{output.Result}{errors.Result}");
    }

}

/// <summary>One `raftps node` child process; its stdout and stderr go to a log file and a short in-memory tail.</summary>
public sealed class NodeProcess : IDisposable
{
    private const int TailLines = 40;
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Queue<string> _tail = new();
    private readonly StreamWriter _log;
    private readonly Lock _gate = new();
    private int _killed;

    private NodeProcess(ClusterMember member, Process process, StreamWriter log)
    {
        Member = member;
        EndPoint = member.ResolveEndPoint();
        _process = process;
        _log = log;
    }

    public ClusterMember Member { get; }
    public IPEndPoint EndPoint { get; }
    public int ProcessId { get; private set; }
    public bool IsReady => _ready.Task.IsCompletedSuccessfully;
    public bool KilledByUs => Volatile.Read(ref _killed) != 0;

    public bool HasExited
    {
        get
        {
            try { return _process.HasExited; }
            catch (InvalidOperationException) { return true; }
        }
    }

    internal static NodeProcess Start(ClusterMember member, string fileName, IEnumerable<string> args, string logPath)
    {
        var psi = new ProcessStartInfo(fileName, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // nodes must not read the bench's terminal
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var node = new NodeProcess(member, process, new StreamWriter(logPath) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        process.Exited += (_, _) => node._ready.TrySetException(
            new ClusterStartException($"node {member.Id} exited before it was ready:\n{node.Tail()}"));
        try
        {
            if (!process.Start()) throw new ClusterStartException($"could not start {fileName}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ClusterStartException($"could not start {fileName}: {e.Message}");
        }
        node.ProcessId = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
            _tail.Enqueue(line);
            while (_tail.Count > TailLines) _tail.Dequeue();
            try { _log.WriteLine(line); } catch (ObjectDisposedException) { }
        }
        if (line.Contains("listening on", StringComparison.OrdinalIgnoreCase)) _ready.TrySetResult();
    }

    public string Tail()
    {
        lock (_gate) return string.Join("\n", _tail.Select(l => "  | " + l));
    }

    public Task WaitReadyAsync(CancellationToken ct) => _ready.Task.WaitAsync(ct);

    /// <summary>User plus system CPU time the node has used so far; null once it has exited.</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            _process.Refresh();
            return _process.HasExited ? null : _process.TotalProcessorTime;
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>SIGKILL (Process.Kill on Unix); no-op once the process is gone.</summary>
    public void Kill()
    {
        Interlocked.Exchange(ref _killed, 1);
        try
        {
            // Not the whole tree: enumerating it first would delay the kill the failover measurement starts from.
            if (!_process.HasExited) _process.Kill();
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already exited between the check and the kill.
        }
    }

    public async Task WaitExitAsync(TimeSpan timeout)
    {
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException)
        {
            Console.Error.WriteLine($"bench: node {Member.Id} (pid {ProcessId}) did not exit within {timeout.TotalSeconds:0} s");
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        lock (_gate) _log.Dispose();
    }
}
