using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Security;

/// <summary>Keyrings for tests: one secret per role, derived from a base name so different names never share keys.</summary>
public static class TestKeys
{
    public static ClusterCredentials Credentials(string name = "test") => new()
    {
        Peer = [$"{name}-peer-secret-0123456789"],
        Client = [$"{name}-client-secret-0123456789"],
        Admin = [$"{name}-admin-secret-0123456789"],
    };

    /// <summary>A node-style keyring holding all three roles.</summary>
    public static Keyring All(ulong cluster, string name = "test") => new(cluster, Credentials(name));

    /// <summary>A data client's keyring: the client secret only.</summary>
    public static Keyring ClientOnly(ulong cluster, string name = "test") => new(cluster, new ClusterCredentials { Client = Credentials(name).Client });

    /// <summary>An operator's keyring: the admin secret only.</summary>
    public static Keyring AdminOnly(ulong cluster, string name = "test") => new(cluster, new ClusterCredentials { Admin = Credentials(name).Admin });
}
