using System.Diagnostics;
using System.Text;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.PowerShell;

/// <summary>What a background node is started with (the parameters of Start-RaftNode that the child process gets).</summary>
internal sealed record BackgroundNodeSpec(string Id, string? ClusterFile, string DataPath, string LogPath, bool AllowFaultInjection,
    bool NoFsync, IReadOnlyList<string>? Join = null, string? Listen = null, string? ClusterName = null, bool Insecure = false,
    string? PeerKeyFile = null, string? ClientKeyFile = null, string? AdminKeyFile = null);

/// <summary>
/// Starts a node as its own process: a pwsh that imports this module and runs Start-RaftNode in the foreground. It
/// needs nothing but the pwsh running this session (no .NET SDK): it is started with the same host program and
/// arguments that run this pwsh (the pwsh apphost, or dotnet with pwsh.dll for the .NET tool). On Linux it runs in
/// its own session (setsid), so Ctrl+C in this terminal or closing it does not stop the node.
/// </summary>
internal static class NodeLauncher
{
    private static readonly string[] SetsidPaths = ["/usr/bin/setsid", "/bin/setsid"];

    /// <summary>Starts the node's process and waits until it answers (see <see cref="Launch"/> and <see cref="LaunchedNode.WaitReady"/>).</summary>
    public static NodeProcess Start(BackgroundNodeSpec spec, TimeSpan readyTimeout, CancellationToken cancellationToken) =>
        Launch(spec).WaitReady(readyTimeout, cancellationToken);

    /// <summary>Starts the node's process without waiting, so several nodes can start at once.</summary>
    public static LaunchedNode Launch(BackgroundNodeSpec spec)
    {
        var (clientOptions, endpoint) = Target(spec);
        Directory.CreateDirectory(Path.GetDirectoryName(spec.LogPath)!);
        File.AppendAllText(spec.LogPath, $"{DateTime.Now:HH:mm:ss.fff} starting node {spec.Id} in the background{Environment.NewLine}");

        var process = new Process { StartInfo = StartInfo(spec) };
        var output = new OutputTail();
        process.OutputDataReceived += (_, e) => output.Add(e.Data);
        process.ErrorDataReceived += (_, e) => output.Add(e.Data);
        if (!process.Start()) throw new InvalidOperationException($"could not start a process for node {spec.Id}");
        try
        {
            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
        catch
        {
            Kill(process);
            throw;
        }
        return new LaunchedNode(spec, clientOptions, endpoint, process, output);
    }

    /// <summary>
    /// Where the node will answer and how to talk to it: its address from -Listen, else the identity it stored in its data
    /// directory on an earlier start (after the first start that, not the cluster file, is the truth), else the cluster file.
    /// </summary>
    private static (RaftClientOptions Options, string Endpoint) Target(BackgroundNodeSpec spec)
    {
        var cluster = spec.ClusterFile is null ? null : ClusterDefinition.Load(spec.ClusterFile);
        var identity = RaftPS.Node.Membership.NodeIdentity.Load(spec.DataPath);
        string? endpoint = spec.Listen
            ?? (identity is null ? null : ClusterDefinition.FormatEndpoint(identity.Host, identity.Port))
            ?? cluster?.Find(spec.Id)?.Endpoint;
        if (endpoint is null)
        {
            if (cluster is not null && spec.Join is null)
                throw new ArgumentException(
                    $"node id '{spec.Id}' is not a member of cluster '{cluster.ClusterName}' in {spec.ClusterFile} (members: {string.Join(", ", cluster.Members.Select(m => m.Id))}); a new member starts with -Join and -Listen");
            throw new ArgumentException($"node {spec.Id} has never run in {spec.DataPath}: give -ClusterFile (founding member) or -Join and -Listen (new member)");
        }
        var options = new RaftClientOptions
        {
            Endpoints = [ClusterDefinition.ParseEndpoint(endpoint)],
            ClusterName = identity?.Cluster ?? cluster?.ClusterName ?? spec.ClusterName ?? ClusterDefinition.DefaultClusterName,
            // The readiness probe speaks as a data client: with the node's own client key when it has one.
            ClusterKey = spec.ClientKeyFile is null ? cluster?.Key : ClusterCredentials.LoadKeyFile(spec.ClientKeyFile)[0],
            AttemptTimeout = TimeSpan.FromMilliseconds(200),
            Deadline = TimeSpan.FromMilliseconds(400),
        };
        return (options, endpoint);
    }

    private static ProcessStartInfo StartInfo(BackgroundNodeSpec spec)
    {
        var (host, leading) = PwshCommand();
        var psi = new ProcessStartInfo
        {
            UseShellExecute = false,
            // Never inherit this session's streams: over SSH remoting they carry the remoting protocol.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        string? setsid = OperatingSystem.IsLinux() ? SetsidPaths.FirstOrDefault(File.Exists) : null;
        if (setsid is not null)
        {
            // The child is not a process-group leader, so setsid execs in place: the pid stays the node's.
            psi.FileName = setsid;
            psi.ArgumentList.Add(host);
        }
        else
        {
            psi.FileName = host;
        }
        foreach (var a in leading) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "-NoLogo", "-NoProfile", "-NonInteractive", "-EncodedCommand", Encode(Script(spec)) }) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>The program and leading arguments that run this pwsh again.</summary>
    internal static (string Host, IReadOnlyList<string> Leading) PwshCommand()
    {
        string processPath = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find the program running this PowerShell");
        string name = Path.GetFileNameWithoutExtension(processPath);
        if (name.Equals("pwsh", StringComparison.OrdinalIgnoreCase)) return (processPath, []);
        // Framework-dependent pwsh (the .NET tool): the dotnet host with pwsh.dll from $PSHOME.
        string pwshDll = Path.Combine(AppContext.BaseDirectory, "pwsh.dll");
        if (!File.Exists(pwshDll)) pwshDll = Environment.GetCommandLineArgs()[0];
        if (!pwshDll.EndsWith("pwsh.dll", StringComparison.OrdinalIgnoreCase) || !File.Exists(pwshDll))
            throw new InvalidOperationException($"cannot start a background node from this host ({processPath}): it is neither pwsh nor dotnet running pwsh.dll");
        return (processPath, [pwshDll]);
    }

    private static string Script(BackgroundNodeSpec spec)
    {
        string modulePath = Path.Combine(Path.GetDirectoryName(typeof(NodeLauncher).Assembly.Location)!, "RaftPS.psd1");
        var sb = new StringBuilder();
        sb.Append("$ProgressPreference = 'SilentlyContinue'; $ErrorActionPreference = 'Stop'; ");
        sb.Append("try { Import-Module -Name ").Append(Quote(modulePath)).Append("; ");
        sb.Append("Start-RaftNode -Id ").Append(Quote(spec.Id))
          .Append(" -DataPath ").Append(Quote(spec.DataPath))
          .Append(" -LogPath ").Append(Quote(spec.LogPath));
        if (spec.ClusterFile is not null) sb.Append(" -ClusterFile ").Append(Quote(spec.ClusterFile));
        if (spec.Join is { Count: > 0 } join) sb.Append(" -Join ").Append(string.Join(", ", join.Select(Quote)));
        if (spec.Listen is not null) sb.Append(" -Listen ").Append(Quote(spec.Listen));
        if (spec.ClusterName is not null) sb.Append(" -ClusterName ").Append(Quote(spec.ClusterName));
        if (spec.AllowFaultInjection) sb.Append(" -AllowFaultInjection");
        if (spec.NoFsync) sb.Append(" -NoFsync");
        if (spec.Insecure) sb.Append(" -Insecure");
        if (spec.PeerKeyFile is not null) sb.Append(" -PeerKeyFile ").Append(Quote(spec.PeerKeyFile));
        if (spec.ClientKeyFile is not null) sb.Append(" -ClientKeyFile ").Append(Quote(spec.ClientKeyFile));
        if (spec.AdminKeyFile is not null) sb.Append(" -AdminKeyFile ").Append(Quote(spec.AdminKeyFile));
        sb.Append(" } catch { Add-Content -LiteralPath ").Append(Quote(spec.LogPath))
          .Append(" -Value (\"fatal: \" + ($_ | Out-String)); exit 1 }");
        return sb.ToString();
    }

    internal static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Encode(string script) => Convert.ToBase64String(Encoding.Unicode.GetBytes(script));

    /// <summary>Waits until the node answers a status request, the process exits, or the timeout passes.</summary>
    internal static void WaitReady(Process process, RaftClientOptions options, string endpoint, BackgroundNodeSpec spec, TimeSpan timeout,
        OutputTail output, CancellationToken ct)
    {
        var client = new RaftClient(options);
        try
        {
            var clock = Stopwatch.StartNew();
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (process.HasExited)
                {
                    process.WaitForExit(2000);
                    throw new InvalidOperationException($"node {spec.Id} exited with code {process.ExitCode} before it served; {Diagnostics(spec, output)}");
                }
                try
                {
                    client.StatusAsync(options.Endpoints[0], ct).GetAwaiter().GetResult();
                    return;
                }
                catch (RaftClientException)
                {
                    // Not serving yet.
                }
                if (clock.Elapsed > timeout)
                    throw new TimeoutException($"node {spec.Id} did not answer at {endpoint} within {timeout.TotalSeconds:0} s; {Diagnostics(spec, output)}");
                ct.WaitHandle.WaitOne(100);
            }
        }
        finally
        {
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static string Diagnostics(BackgroundNodeSpec spec, OutputTail output)
    {
        var sb = new StringBuilder($"its log is {spec.LogPath}");
        try
        {
            var tail = File.ReadLines(spec.LogPath).TakeLast(8).ToArray();
            if (tail.Length > 0) sb.Append(":").Append(Environment.NewLine).Append(string.Join(Environment.NewLine, tail.Select(l => "    " + l)));
        }
        catch (IOException)
        {
            // No log yet.
        }
        string outputTail = output.Text;
        if (outputTail.Length > 0) sb.Append(Environment.NewLine).Append("process output:").Append(Environment.NewLine).Append(outputTail);
        return sb.ToString();
    }

    internal static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>The last lines the child wrote on stdout/stderr (read continuously, so its pipes never fill up).</summary>
    internal sealed class OutputTail
    {
        private readonly Queue<string> _lines = new();

        public void Add(string? line)
        {
            if (line is null) return;
            lock (_lines)
            {
                _lines.Enqueue(line);
                while (_lines.Count > 20) _lines.Dequeue();
            }
        }

        public string Text
        {
            get
            {
                lock (_lines) return string.Join(Environment.NewLine, _lines.Select(l => "    " + l));
            }
        }
    }
}
