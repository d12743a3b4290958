using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace RaftPS.PowerShell;

/// <summary>
/// The default connection of each runspace (Connect-RaftCluster sets it). Keyed by runspace so thread jobs and
/// hosted runspaces in one process do not share a default by accident.
/// </summary>
internal static class SessionConnections
{
    private static readonly ConditionalWeakTable<Runspace, Connection> Defaults = new();
    private static readonly object NoRunspace = new();
    private static Connection? _withoutRunspace;

    public static Connection? Default
    {
        get
        {
            var rs = Runspace.DefaultRunspace;
            if (rs is null) return _withoutRunspace;
            return Defaults.TryGetValue(rs, out var c) && !c.IsClosed ? c : null;
        }
        set
        {
            var rs = Runspace.DefaultRunspace;
            if (rs is null)
            {
                lock (NoRunspace) _withoutRunspace = value;
                return;
            }
            if (value is null) Defaults.Remove(rs);
            else Defaults.AddOrUpdate(rs, value);
        }
    }
}
