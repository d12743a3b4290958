using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using RaftPS.Cli;

namespace RaftPS.Node.Tests.Cli;

/// <summary>The real `raftps demo`, as a child process that itself runs three `raftps node` children.</summary>
public class DemoTests
{
    [Fact]
    public async Task Demo_runs_end_to_end_and_leaves_no_process_or_directory_behind()
    {
        var psi = SelfLauncher.CreateStartInfo(["demo"]);
        Assert.EndsWith("raftps.dll", psi.ArgumentList[0]); // run as `dotnet raftps.dll demo`, like an installed tool
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        Assert.True(process.Start());
        try
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(bound.Token);
            process.WaitForExit(); // drain the output readers
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }

        string output;
        lock (stdout) output = stdout.ToString();
        string report = $"exit {process.ExitCode}\nstdout:\n{output}\nstderr:\n{stderr}";
        Assert.True(process.ExitCode == 0, report);
        Assert.Matches(@"✓ n\d is the leader \(term \d+\)", output);
        Assert.Matches(@"✓ wrote 20 values in \d+ ms", output);
        Assert.Contains("✓ read back 20/20 values", output);
        Assert.Matches(@"Killing the leader n\d \(pid \d+\)", output);
        Assert.Matches(@"✓ n\d took over as leader \(term \d+\) after \d+\.\d\d s", output);
        Assert.Contains("✓ all 20 values survived the failover", output);
        Assert.Matches(@"✓ n\d rejoined as \w+ and caught up: applied index (\d+) reached the leader's \d+", output);
        Assert.Matches(@"✓ n\d serves the value written while it was down", output);
        Assert.DoesNotContain("✗", output);
        Assert.Matches(@"Demo passed: (\d+)/\1 checks", output);

        // Every node process it started is gone, and so is its temp directory.
        foreach (Match m in Regex.Matches(output, @"^  n\d  \S+  pid (\d+)", RegexOptions.Multiline))
            Assert.False(IsAlive(int.Parse(m.Groups[1].Value)), $"node pid {m.Groups[1].Value} still runs\n{report}");
        Assert.Equal(4, Regex.Matches(output, @"^  n\d  \S+  pid \d+", RegexOptions.Multiline).Count); // 3 starts + 1 restart
        string dir = Regex.Match(output, @"data and logs: (\S+)").Groups[1].Value;
        Assert.NotEqual("", dir);
        Assert.Contains($"Removed {dir}.", output);
        Assert.False(Directory.Exists(dir), report);
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
