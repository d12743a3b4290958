using System.IO.Hashing;
using System.Text;

namespace RaftPS.Protocol.Wire;

/// <summary>Stable identifiers derived from operator-facing strings (keys: <see cref="WireKey"/>).</summary>
public static class ClusterId
{
    /// <summary>XxHash64 of the UTF-8 cluster name: stable across processes, machines and versions.</summary>
    public static ulong FromName(string clusterName)
    {
        ArgumentNullException.ThrowIfNull(clusterName);
        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(clusterName));
    }
}
