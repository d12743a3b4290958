using System.CommandLine;
using RaftPS.Protocol;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    private Command KeygenCommand()
    {
        var command = new Command("keygen", "Print a new random secret (32 bytes, base64url) for a peer, client or admin key file.\n" +
                                            "Example: raftps keygen > peer.key && chmod 600 peer.key");
        command.SetAction(_ =>
        {
            _out.WriteLine(ClusterCredentials.GenerateSecret());
            return ExitCodes.Success;
        });
        return command;
    }
}
