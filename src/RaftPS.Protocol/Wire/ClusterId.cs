using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace RaftPS.Protocol.Wire;

/// <summary>Stable identifiers and keys derived from operator-facing strings.</summary>
public static class ClusterId
{
    /// <summary>XxHash64 of the UTF-8 cluster name: stable across processes, machines and versions.</summary>
    public static ulong FromName(string clusterName)
    {
        ArgumentNullException.ThrowIfNull(clusterName);
        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(clusterName));
    }

    /// <summary>
    /// A 32-byte HMAC key from a shared secret string (SHA-256 with a domain prefix), so operators can pass a
    /// passphrase while the wire always uses a full-length key.
    /// </summary>
    public static byte[] KeyFromSecret(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        return SHA256.HashData(Encoding.UTF8.GetBytes("RaftPS cluster key v1\0" + secret));
    }
}
