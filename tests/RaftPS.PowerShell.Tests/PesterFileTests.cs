using System.Text.RegularExpressions;

namespace RaftPS.PowerShell.Tests;

/// <summary>
/// One case per Pester file: runs it in its own pwsh through tests/Pester/Invoke-RaftPester.ps1 and fails with the
/// Pester output when any test in it fails. When RAFTPS_PESTER_COUNTS names a file, each run appends
/// "file passed failed" to it (.ci/run adds those counts to its total).
/// </summary>
public sealed partial class PesterFileTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(TestPaths.PesterDirectory, "*.Tests.ps1").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Pester_file_passes(string file)
    {
        string module = StagedModule.Path;
        var result = Pwsh.Run(
            ["-File", Path.Combine(TestPaths.PesterDirectory, "Invoke-RaftPester.ps1"),
             "-Path", Path.Combine(TestPaths.PesterDirectory, file),
             "-ModulePath", module,
             "-PesterPath", TestPaths.PesterManifest],
            Timeout);
        var summary = SummaryLine().Matches(result.Output).LastOrDefault();
        int passed = summary is null ? 0 : int.Parse(summary.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        int failed = summary is null ? 1 : int.Parse(summary.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        if (result.ExitCode != 0 && failed == 0) failed = 1;
        if (Environment.GetEnvironmentVariable("RAFTPS_PESTER_COUNTS") is { Length: > 0 } counts)
            File.AppendAllText(counts, $"{file} {passed} {failed}{Environment.NewLine}");
        Assert.True(result.ExitCode == 0 && failed == 0,
            $"{file}: exit code {result.ExitCode}, {passed} passed, {failed} failed{Environment.NewLine}{Tail(result.Output, 200)}");
        Assert.True(passed > 0, $"{file} ran no tests{Environment.NewLine}{Tail(result.Output, 50)}");
    }

    private static string Tail(string text, int lines) =>
        string.Join(Environment.NewLine, text.Split('\n').TakeLast(lines).Select(l => l.TrimEnd('\r')));

    [GeneratedRegex(@"^pester: (\d+) passed, (\d+) failed", RegexOptions.Multiline)]
    private static partial Regex SummaryLine();
}
