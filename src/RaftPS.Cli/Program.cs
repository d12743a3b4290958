using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace RaftPS.Cli;

/// <summary>Entry point of the <c>raftps</c> executable.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        // The demo prints ✓/✗; Windows consoles default to a code page without them.
        if (OperatingSystem.IsWindows())
        {
            try { Console.OutputEncoding = Encoding.UTF8; } catch (IOException) { }
        }
        using var stop = new CancellationTokenSource();
        // Ctrl+C and SIGTERM cancel the command instead of killing the process, so a node can stop cleanly and the demo
        // can kill its children. A second Ctrl+C while stopping falls through to the default (immediate exit).
        void OnSignal(PosixSignalContext context)
        {
            if (stop.IsCancellationRequested) return;
            context.Cancel = true;
            try { stop.Cancel(); } catch (ObjectDisposedException) { }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return await RunAsync(args, Console.Out, Console.Error, stop.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one command line with its output going to <paramref name="stdout"/> and <paramref name="stderr"/> (tests and
    /// hosts pass string writers). Cancelling <paramref name="cancellationToken"/> is what Ctrl+C does.
    /// </summary>
    /// <returns>The exit code (see <see cref="ExitCodes"/>).</returns>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        return new CliApp(stdout, stderr).RunAsync(args, cancellationToken);
    }

    /// <summary>"0.1.0" from the informational version, without the source revision suffix.</summary>
    public static string Version
    {
        get
        {
            var asm = typeof(Program).Assembly;
            string v = asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                       ?? asm.GetName().Version?.ToString() ?? "0.0.0";
            int plus = v.IndexOf('+');
            return plus >= 0 ? v[..plus] : v;
        }
    }
}

/// <summary>One invocation: the command tree bound to this invocation's output writers.</summary>
internal sealed partial class CliApp(TextWriter stdout, TextWriter stderr)
{
    private readonly TextWriter _out = stdout;
    private readonly TextWriter _err = stderr;

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = BuildRoot();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // The parser's own error action exits with 1; bad usage is 2 here, like most Unix tools.
            foreach (var error in parsed.Errors) _err.WriteLine($"error: {Friendly(error.Message)}");
            var failing = parsed.CommandResult.Command;
            string command = failing is RootCommand ? "raftps" : $"raftps {failing.Name}";
            // The parser says "required argument missing" without naming it; the usage line does.
            _err.WriteLine($"usage: {command}{string.Concat(failing.Arguments.Select(a => a.Arity.MinimumNumberOfValues == 0 ? $" [<{a.Name}>]" : $" <{a.Name}>"))}" +
                           (failing.Subcommands.Count > 0 ? " <command>" : "") + (failing.Options.Count > 0 ? " [options]" : ""));
            _err.WriteLine($"Run '{command} --help' for more.");
            return ExitCodes.Usage;
        }
        var config = new InvocationConfiguration
        {
            Output = _out,
            Error = _err,
            // Signals are handled by Main (or the host) through the cancellation token; the library's handler would
            // otherwise force an exit 2 s after Ctrl+C, before a node or the demo has finished cleaning up.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };
        return await parsed.InvokeAsync(config, cancellationToken).ConfigureAwait(false);
    }

    private RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "raftps: run a RaftPS node, read and write a RaftPS cluster, run failure drills against it (fault, transfer),\n" +
            "or watch a local demo cluster survive a leader crash.\n\n" +
            ExitCodes.HelpText)
        {
            NodeCommand(),
            PutCommand(),
            GetCommand(),
            DeleteCommand(),
            CasCommand(),
            ListCommand(),
            StatusCommand(),
            FaultCommand(),
            TransferCommand(),
            MemberCommand(),
            VerifyCommand(),
            DemoCommand(),
            KeygenCommand(),
            VersionCommand(),
        };
        return root;
    }

    private Command VersionCommand()
    {
        var command = new Command("version", "Print the raftps version and runtime.");
        command.SetAction(_ =>
        {
            _out.WriteLine($"raftps {Program.Version} ({RuntimeInformation.FrameworkDescription}, {RuntimeInformation.RuntimeIdentifier})");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// Runs a command body and turns any exception into one line on stderr (a JSON object with --json) and its exit code.
    /// </summary>
    private async Task<int> Guarded(Func<CancellationToken, Task<int>> body, bool json, CancellationToken cancellationToken)
    {
        try
        {
            return await body(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _err.WriteLine("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception ex)
        {
            // A cancellation nobody asked for is a failure, not an interruption.
            int code = ex is OperationCanceledException ? ExitCodes.Failure : ExitCodes.For(ex);
            WriteError(ex, code, json);
            return code;
        }
    }

    private void WriteError(Exception ex, int code, bool json)
    {
        string message = Describe(ex, code);
        if (json)
        {
            Output.Json(_err, w =>
            {
                w.WriteStartObject();
                w.WriteString("error", ex is Client.RaftClientException rce ? rce.ErrorId : ex.GetType().Name);
                w.WriteNumber("exitCode", code);
                w.WriteString("message", message);
                w.WriteEndObject();
            });
        }
        else
        {
            _err.WriteLine($"error: {message}");
        }
    }

    private static string Describe(Exception ex, int code) => ex switch
    {
        // Expected failures carry messages written for people; an unexpected one also names its type.
        _ when code != ExitCodes.Failure || ex is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException => OneLine(ex.Message),
        _ => $"unexpected {ex.GetType().Name}: {OneLine(ex.Message)}",
    };

    // "Cannot parse argument 'x' for option '--limit' as expected type 'System.Int32'" names a CLR type; say what to type.
    private static string Friendly(string parseError) =>
        System.Text.RegularExpressions.Regex.Replace(parseError, @" as expected type '([^']+)'\.?", m =>
            m.Groups[1].Value switch
            {
                var t when t.Contains("Double", StringComparison.Ordinal) => ": expected a number.",
                var t when t.Contains("UInt", StringComparison.Ordinal) => ": expected a whole number, 0 or more.",
                var t when t.Contains("Int", StringComparison.Ordinal) => ": expected a whole number.",
                var t when t.Contains("Boolean", StringComparison.Ordinal) => ": expected true or false.",
                _ => m.Value,
            });

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
