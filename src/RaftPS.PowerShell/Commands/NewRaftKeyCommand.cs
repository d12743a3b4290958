using System.Management.Automation;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Creates a key file holding a new random secret.</summary>
/// <remarks>
/// <para>Writes one new random secret (32 bytes, base64url; what 'raftps keygen' prints) to a new file that only the
/// current user may read (mode 600 on Linux and macOS). A cluster uses three: the peer key that only members hold
/// (Start-RaftNode -PeerKeyFile), the client key for data operations (-ClientKeyFile on Start-RaftNode and
/// Connect-RaftCluster) and the admin key for membership changes, leadership moves, fault drills, snapshots and
/// replica checks (-AdminKeyFile). An existing file is not replaced unless -Force; the ErrorId is then KeyFileExists.
/// Emits the file. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>'peer', 'client', 'admin' | ForEach-Object { New-RaftKey -Path "./$_.key" }</code>
/// <para>Creates the three key files of a new secure cluster.</para>
/// </example>
/// <example>
/// <code>New-RaftKey -Path ./client.key -Force</code>
/// <para>Replaces the client key (to rotate without downtime, add the new secret as a second line first; see the README).</para>
/// </example>
[Cmdlet(VerbsCommon.New, "RaftKey", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class NewRaftKeyCommand : RaftCmdlet
{
    /// <summary>The key file to create.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Replace an existing file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        string path = GetUnresolvedProviderPathFromPSPath(Path);
        if (File.Exists(path) && !Force)
        {
            Fail(RaftErrorId.KeyFileExists, ErrorCategory.ResourceExists, $"'{path}' exists; pass -Force to replace its secret.", path);
            return;
        }
        if (!ShouldProcess(path, "Write a new random secret")) return;
        TryRun(() =>
        {
            string tmp = path + ".tmp";
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            using (var stream = new FileStream(tmp, options))
            using (var writer = new StreamWriter(stream))
                writer.WriteLine(ClusterCredentials.GenerateSecret());
            File.Move(tmp, path, overwrite: true);
            WriteObject(new FileInfo(path));
        }, path);
    }
}
