using System.Reflection;

namespace RaftPS.PowerShell.Tests;

/// <summary>Paths the build bakes into this assembly (see the csproj): the repo, the module's build output, Pester.</summary>
internal static class TestPaths
{
    public static string RepoRoot => Metadata("RepoRoot");
    public static string ModuleBuildOutput => Metadata("ModuleBuildOutput");
    public static string PesterManifest => Metadata("PesterManifest");
    public static string PesterDirectory => Path.Combine(RepoRoot, "tests", "Pester");

    private static string Metadata(string key) =>
        typeof(TestPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata {key} missing");
}
