using System.Diagnostics;
using System.Net;
using RaftPS.Node.Tests.Integration;

namespace RaftPS.Node.Tests.Cli;

/// <summary>What one in-process `raftps` invocation returned and printed.</summary>
public sealed record CliResult(int Code, string Out, string Err)
{
    public string[] OutLines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {Code}{Environment.NewLine}stdout:{Environment.NewLine}{Out}stderr:{Environment.NewLine}{Err}";
}

/// <summary>Runs the CLI in this process through <see cref="RaftPS.Cli.Program.RunAsync"/>, capturing its output.</summary>
public static class RaftpsCli
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // no test invocation may hang the suite
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await RaftPS.Cli.Program.RunAsync(args, stdout, stderr, cts.Token);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>A UDP port on 127.0.0.1 that nothing listens on (bound and released).</summary>
    public static int FreePort() => RaftPS.Protocol.FreePorts.Udp(1)[0];

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(20);
        }
    }
}

/// <summary>A directory under the temp folder, removed on dispose.</summary>
public sealed class CliTempDir : IDisposable
{
    public CliTempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "raftps-cli-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name, string? content = null)
    {
        string path = System.IO.Path.Combine(Path, name);
        if (content is not null) System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A 3-node in-process cluster with its cluster file, shared by the tests of one class (each uses its own keys).</summary>
public sealed class CliClusterFixture : IAsyncLifetime
{
    public InProcessCluster Cluster { get; private set; } = null!;
    public string ClusterFile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        // Small segments: the WAL preallocates whole segments.
        Cluster = InProcessCluster.Start(3, (_, o) => o with { SegmentBytes = 1 << 20 });
        ClusterFile = Path.Combine(Cluster.Root, "cluster.json");
        Cluster.Cluster.Save(ClusterFile);
        await Cluster.WaitForLeaderAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>"--endpoints" text of every member.</summary>
    public string Endpoints => string.Join(",", Cluster.Cluster.Members.Select(m => m.Endpoint));

    /// <summary>A key prefix no other test uses.</summary>
    public static string UniquePrefix() => "t" + Guid.NewGuid().ToString("N")[..8] + "/";

    public static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);
}
