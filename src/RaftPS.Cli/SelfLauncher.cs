using System.Diagnostics;

namespace RaftPS.Cli;

/// <summary>
/// Starts this same executable as a child process (`raftps node ...` for the demo, `raftps demo` for tests), whether it
/// runs as the `raftps` apphost or as `dotnet raftps.dll`.
/// </summary>
public static class SelfLauncher
{
    /// <summary>Path of raftps.dll (the assembly holding the commands).</summary>
    public static string AssemblyPath => typeof(Program).Assembly.Location;

    /// <summary>
    /// The program and leading arguments that run raftps: the apphost when this process is one, otherwise the dotnet
    /// host with raftps.dll (a test host, or `dotnet raftps.dll`).
    /// </summary>
    public static (string FileName, IReadOnlyList<string> LeadingArguments) Command()
    {
        string? processPath = Environment.ProcessPath;
        if (processPath is not null && string.Equals(Path.GetFileNameWithoutExtension(processPath), "raftps", StringComparison.OrdinalIgnoreCase))
            return (processPath, []);
        string dll = AssemblyPath;
        if (string.IsNullOrEmpty(dll)) throw new InvalidOperationException("cannot locate raftps.dll to start a child process (single-file publish is not supported for this)");
        return (DotnetHost(processPath), [dll]);
    }

    /// <summary>A start description for `raftps <paramref name="arguments"/>` with stdout and stderr redirected (UTF-8).</summary>
    public static ProcessStartInfo CreateStartInfo(IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var (fileName, leading) = Command();
        var psi = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
            CreateNoWindow = true,
        };
        foreach (var a in leading) psi.ArgumentList.Add(a);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        return psi;
    }

    private static string DotnetHost(string? processPath)
    {
        if (processPath is not null && string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase))
            return processPath;
        // Set by the dotnet CLI for the processes it starts (dotnet test, dotnet run).
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root)
        {
            string candidate = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
            if (File.Exists(candidate)) return candidate;
        }
        return "dotnet";
    }
}
