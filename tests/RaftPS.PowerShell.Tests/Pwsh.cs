using System.Diagnostics;
using System.Text;

namespace RaftPS.PowerShell.Tests;

/// <summary>Runs the repo's pwsh (`dotnet pwsh`, the local tool pinned in dotnet-tools.json) with a bounded wait.</summary>
internal static class Pwsh
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(IEnumerable<string> arguments, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = TestPaths.RepoRoot,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        psi.ArgumentList.Add("pwsh");
        foreach (var a in new[] { "-NoLogo", "-NoProfile", "-NonInteractive" }) psi.ArgumentList.Add(a);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        // Plain text output: no ANSI colour codes in what the assertions show.
        psi.Environment["NO_COLOR"] = "1";
        psi.Environment["TERM"] = "dumb";
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;

        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            // Killing the tree also ends nodes the script started and could not stop itself.
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
            lock (output) return new Result(-1, output + $"{Environment.NewLine}(killed after {timeout.TotalMinutes:0} min)");
        }
        process.WaitForExit();
        lock (output) return new Result(process.ExitCode, output.ToString());
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        string? processPath = Environment.ProcessPath;
        if (processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet") return processPath;
        return "dotnet";
    }
}
