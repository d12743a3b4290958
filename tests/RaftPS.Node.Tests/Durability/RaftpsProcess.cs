using System.Diagnostics;
using System.Text;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// One `raftps node` child process (dotnet src/RaftPS.Cli/bin/&lt;config&gt;/net10.0/raftps.dll). Captures stdout and
/// stderr, knows when the node printed its ready line, and is killed with SIGKILL by pid (<see cref="Kill"/>).
/// </summary>
internal sealed class RaftpsProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RaftpsProcess(string id, Process process)
    {
        Id = id;
        _process = process;
    }

    public string Id { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote so far (stdout and stderr interleaved as received).</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>The built `raftps` entry assembly, for the same configuration as this test assembly.</summary>
    public static string CliDll
    {
        get
        {
            // The test runs from tests/RaftPS.Node.Tests/bin/<config>/<tfm>/: the Cli project's output mirrors it.
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string tfm = testBin.Name, config = testBin.Parent!.Name;
            var dir = testBin;
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "src", "RaftPS.Cli", "RaftPS.Cli.csproj"))) dir = dir.Parent;
            Assert.True(dir is not null, "repository root not found above " + AppContext.BaseDirectory);
            string dll = Path.Combine(dir!.FullName, "src", "RaftPS.Cli", "bin", config, tfm, "raftps.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the test project (it references RaftPS.Cli) in {config}");
            return dll;
        }
    }

    public static RaftpsProcess StartNode(string id, string clusterFile, string dataDir, params string[] extra) =>
        Start(id, ["node", "--id", id, "--cluster", clusterFile, "--data", dataDir, "--log-level", "info", .. extra]);

    public static RaftpsProcess Start(string id, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var p = new RaftpsProcess(id, process);
        process.OutputDataReceived += (_, e) => p.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => p.OnLine(e.Data, stdout: false);
        Assert.True(process.Start(), "could not start " + psi.FileName);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return p;
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null) return;
        lock (_output) _output.Append(stdout ? "" : "[err] ").AppendLine(line);
        if (stdout && line.StartsWith($"raftps node {Id} listening on ", StringComparison.Ordinal)) _ready.TrySetResult();
    }

    /// <summary>Waits (bounded) for the ready line; fails with the process output if it exits or takes too long.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(_ready.Task, exited, Task.Delay(timeout));
        if (first == _ready.Task) return;
        string why = first == exited ? $"exited with code {_process.ExitCode}" : $"printed no ready line within {timeout.TotalSeconds:F0} s";
        Assert.Fail($"raftps node {Id} (pid {Pid}) {why}:\n{Output}");
    }

    /// <summary>Waits (bounded) for the process to exit by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"raftps node {Id} (pid {Pid}) did not exit within {timeout.TotalSeconds:F0} s:\n{Output}");
        }
        _process.WaitForExit(); // drains the redirected streams
        return _process.ExitCode;
    }

    /// <summary>kill -9: SIGKILL to this pid, then waits (bounded) until it is gone.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: false);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}

/// <summary>A temp directory with a cluster file and one data directory per member, and the processes running on them.</summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private ProcessCluster(ClusterDefinition cluster, string root)
    {
        Cluster = cluster;
        Root = root;
        ClusterFile = Path.Combine(root, "cluster.json");
        cluster.Save(ClusterFile);
    }

    public ClusterDefinition Cluster { get; }
    public string Root { get; }
    public string ClusterFile { get; }
    public Dictionary<string, RaftpsProcess?> Nodes { get; } = new();

    public static ProcessCluster Create(int size)
    {
        var root = Path.Combine(Path.GetTempPath(), "raftps-proc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return new ProcessCluster(Clusters.Local(size), root);
    }

    public string DataDir(string id) => Path.Combine(Root, id);

    public async Task<RaftpsProcess> StartAsync(string id)
    {
        var old = Nodes.GetValueOrDefault(id);
        Assert.True(old is null || old.HasExited, $"{id} is still running");
        old?.Dispose();
        var p = RaftpsProcess.StartNode(id, ClusterFile, DataDir(id));
        Nodes[id] = p;
        await p.WaitReadyAsync(TimeSpan.FromSeconds(30));
        return p;
    }

    public void Kill(string id)
    {
        if (Nodes.GetValueOrDefault(id) is { } p) p.Kill();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var p in Nodes.Values)
        {
            p?.Dispose();
        }
        // A killed process may take a moment to release its files.
        for (int attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
                return;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            await Task.Delay(100);
        }
    }
}
