using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RaftPS.PowerShell;

/// <summary>Signals to node processes: SIGTERM for a clean stop (.NET has no managed API to send it), SIGKILL for -Force.</summary>
internal static class ProcessSignals
{
    private const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Asks the process to stop cleanly. Windows has no SIGTERM: there the process is killed.</summary>
    public static void Terminate(Process process)
    {
        if (OperatingSystem.IsWindows())
        {
            process.Kill(entireProcessTree: true);
            return;
        }
        if (Kill(process.Id, SIGTERM) != 0 && !process.HasExited)
            throw new InvalidOperationException($"cannot signal process {process.Id}: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// The running process with this pid that started at <paramref name="startTime"/> (within a second), or null when it
    /// has exited (a reused pid belongs to another program and is never returned).
    /// </summary>
    public static Process? Find(int pid, DateTime startTime)
    {
        Process p;
        try
        {
            p = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return null;
        }
        try
        {
            if (p.HasExited || Math.Abs((p.StartTime - startTime).TotalSeconds) > 1)
            {
                p.Dispose();
                return null;
            }
            return p;
        }
        catch (InvalidOperationException)
        {
            p.Dispose();
            return null;
        }
    }
}
