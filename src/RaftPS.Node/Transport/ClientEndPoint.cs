using System.Net;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>
/// Where to answer a client request, and under which key: the reply is sealed with the key that opened the request
/// (so a client still on the previous secret of a rotation can read it) and its role is what the request was
/// authorized as. The server treats it as an ordinary <see cref="EndPoint"/>.
/// </summary>
public sealed class ClientEndPoint(IPAddress address, int port, WireKey? key) : IPEndPoint(address, port)
{
    /// <summary>The key the request was sealed with; null for a plaintext request.</summary>
    public WireKey? Key { get; } = key;
    public CredentialRole Role => Key?.Role ?? CredentialRole.None;
}
