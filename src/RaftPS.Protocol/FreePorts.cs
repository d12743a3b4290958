using System.Net;
using System.Net.Sockets;

namespace RaftPS.Protocol;

/// <summary>Free UDP ports for local clusters (demo, benchmark, tests).</summary>
public static class FreePorts
{
    /// <summary>
    /// Distinct ports the OS hands out for UDP on <paramref name="address"/> (loopback by default). All sockets are held until
    /// every port is chosen so none repeats; another process may still take one before the caller binds it.
    /// </summary>
    public static int[] Udp(int count, IPAddress? address = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        address ??= IPAddress.Loopback;
        var sockets = new List<Socket>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var s = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(s);
                s.Bind(new IPEndPoint(address, 0));
            }
            return sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).ToArray();
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }
}
