using System.Diagnostics;
using System.Net;

namespace RaftPS.Cli;

/// <summary>The demo could not go on (a node did not start, no leader in time); the message says what happened.</summary>
public sealed class DemoFailedException(string message) : Exception(message);

/// <summary>
/// One `raftps node` child process of the demo: started and restarted with the same arguments, its output appended to a
/// log file, its ready line awaited with a bound, killed with its whole process tree.
/// </summary>
internal sealed class ChildNode : IDisposable
{
    private const int TailLines = 12;
    private readonly string[] _arguments;
    private readonly object _gate = new();
    private readonly Queue<string> _stderrTail = new();
    private StreamWriter? _log;
    private Process? _process;
    private TaskCompletionSource<string> _ready = NewReady();

    public ChildNode(string id, IPEndPoint endPoint, string logPath, IEnumerable<string> arguments)
    {
        Id = id;
        EndPoint = endPoint;
        LogPath = logPath;
        _arguments = arguments.ToArray();
    }

    public string Id { get; }
    public IPEndPoint EndPoint { get; }
    public string LogPath { get; }
    public int Pid => _process?.Id ?? 0;
    public bool IsRunning
    {
        get
        {
            try { return _process is { HasExited: false }; }
            catch (InvalidOperationException) { return false; }
        }
    }

    private static TaskCompletionSource<string> NewReady() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Starts the process (again, after <see cref="Kill"/>); output goes to <see cref="LogPath"/>.</summary>
    public void Start()
    {
        if (IsRunning) throw new InvalidOperationException($"node {Id} is already running");
        _process?.Dispose();
        lock (_gate)
        {
            _log ??= new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _stderrTail.Clear();
            _ready = NewReady();
        }
        var ready = _ready;
        var process = new Process { StartInfo = SelfLauncher.CreateStartInfo(_arguments), EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            Append(line, stderr: false);
            if (line.StartsWith($"raftps node {Id} listening on ", StringComparison.Ordinal)) ready.TrySetResult(line);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line) Append(line, stderr: true);
        };
        process.Exited += (_, _) => ready.TrySetException(new DemoFailedException($"node {Id} exited before it was ready"));
        Append($"--- starting: {process.StartInfo.FileName} {string.Join(' ', process.StartInfo.ArgumentList)}", stderr: false);
        if (!process.Start()) throw new DemoFailedException($"could not start node {Id}");
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Waits (bounded) for the ready line; on exit or timeout throws with the node's last error lines.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var ready = _ready.Task;
        var finished = await Task.WhenAny(ready, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (finished == ready && ready.IsCompletedSuccessfully) return;
        string what;
        if (finished == ready)
        {
            // Let the output readers drain so the reason is in the tail.
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try { await _process!.WaitForExitAsync(drain.Token).ConfigureAwait(false); } catch (OperationCanceledException) { }
            what = $"node {Id} exited with code {SafeExitCode()} before it was ready";
        }
        else
        {
            what = $"node {Id} did not report ready within {timeout.TotalSeconds:0} s";
        }
        string tail = StderrTail();
        throw new DemoFailedException(tail.Length == 0 ? what : $"{what}; its last error output:{Environment.NewLine}{tail}");
    }

    /// <summary>Kills the process and everything it started; waits (bounded) for it to be gone.</summary>
    public void Kill()
    {
        var p = _process;
        if (p is null) return;
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Exiting at the same moment.
        }
    }

    public string StderrTail()
    {
        lock (_gate) return string.Join(Environment.NewLine, _stderrTail.Select(l => "    " + l));
    }

    private int? SafeExitCode()
    {
        try { return _process?.ExitCode; }
        catch (InvalidOperationException) { return null; }
    }

    private void Append(string line, bool stderr)
    {
        lock (_gate)
        {
            _log?.WriteLine(line);
            if (!stderr) return;
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > TailLines) _stderrTail.Dequeue();
        }
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        _process = null;
        lock (_gate)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}
