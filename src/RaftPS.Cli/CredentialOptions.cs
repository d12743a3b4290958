using System.CommandLine;
using System.Runtime.InteropServices;
using RaftPS.Client;
using RaftPS.Node;
using RaftPS.Protocol;

namespace RaftPS.Cli;

/// <summary>
/// Key-file options. Secrets never go on the command line (process lists show it) nor in the cluster file a data
/// client receives: each role has its own key file (one secret per line, first current, '#' comments), given by option
/// or by environment variable. Nodes take all three; clients take the client and/or admin file.
/// </summary>
internal sealed class CredentialOptions
{
    public const string PeerEnv = "RAFTPS_PEER_KEY_FILE";
    public const string ClientEnv = "RAFTPS_CLIENT_KEY_FILE";
    public const string AdminEnv = "RAFTPS_ADMIN_KEY_FILE";

    public readonly Option<string?> PeerKeyFile = new("--peer-key-file")
    {
        Description = $"Node only: the peer secret(s) that only cluster members hold (or ${PeerEnv}). Required to listen on a non-loopback address.",
        HelpName = "FILE",
    };
    public readonly Option<string?> ClientKeyFile = new("--client-key-file")
    {
        Description = $"Client secret(s) for data operations (or ${ClientEnv}); the cluster file's 'key' also counts as one.",
        HelpName = "FILE",
    };
    public readonly Option<string?> AdminKeyFile = new("--admin-key-file")
    {
        Description = $"Admin secret(s) for membership changes, leadership transfer, fault injection and snapshots (or ${AdminEnv}).",
        HelpName = "FILE",
    };
    public readonly Option<bool> Insecure = new("--insecure")
    {
        Description = "Node only: allow a non-loopback address without a peer key. Anyone who can reach the port can then act as a member.",
    };

    public void AddClientOptionsTo(Command command)
    {
        command.Add(ClientKeyFile);
        command.Add(AdminKeyFile);
    }

    public void AddNodeOptionsTo(Command command)
    {
        command.Add(PeerKeyFile);
        command.Add(ClientKeyFile);
        command.Add(AdminKeyFile);
        command.Add(Insecure);
    }

    /// <summary>The key files named by options or environment variables.</summary>
    public KeyFiles Files(ParseResult pr) => new(
        pr.GetValue(PeerKeyFile) ?? Env(PeerEnv),
        pr.GetValue(ClientKeyFile) ?? Env(ClientEnv),
        pr.GetValue(AdminKeyFile) ?? Env(AdminEnv));

    /// <summary>Client settings with the client / admin secrets of <paramref name="files"/> (current line of each).</summary>
    public static RaftClientOptions Apply(RaftClientOptions options, KeyFiles files)
    {
        var creds = files.Load();
        if (creds.Client.Count > 0) options = options with { ClusterKey = creds.Client[0] };
        if (creds.Admin.Count > 0) options = options with { AdminKey = creds.Admin[0] };
        return options;
    }

    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    internal sealed record KeyFiles(string? Peer, string? Client, string? Admin)
    {
        /// <exception cref="ClusterDefinitionException">A file cannot be read or holds no usable secret.</exception>
        public ClusterCredentials Load() => new()
        {
            Peer = Peer is null ? [] : ClusterCredentials.LoadKeyFile(Peer),
            Client = Client is null ? [] : ClusterCredentials.LoadKeyFile(Client),
            Admin = Admin is null ? [] : ClusterCredentials.LoadKeyFile(Admin),
        };

        /// <summary>
        /// Re-reads the key files on SIGHUP and hands them to <paramref name="server"/>: the rotation steps (add the new
        /// secret as a second line, move it first, drop the old one) need no restart. A bad file is reported and ignored.
        /// </summary>
        public IDisposable? ReloadOnHangup(RaftServer server, TextWriter err, string nodeId)
        {
            if (OperatingSystem.IsWindows() || (Peer is null && Client is null && Admin is null)) return null;
            return PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
            {
                ctx.Cancel = true;
                try
                {
                    server.UpdateCredentials(Load());
                    err.WriteLine($"node {nodeId}: key files reloaded");
                }
                catch (Exception e) when (e is ClusterDefinitionException or ArgumentException)
                {
                    err.WriteLine($"error: node {nodeId} kept its keys; reloading them failed: {e.Message}");
                }
            });
        }
    }
}
