using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RaftPS.Node.Storage;

/// <summary>
/// The few POSIX calls .NET does not expose: fdatasync (no metadata flush when the file size is unchanged),
/// fallocate (reserve blocks and set the size), and fsync of a directory (.NET cannot open a directory handle).
/// Other platforms fall back to the portable equivalents.
/// </summary>
internal static class NativeIO
{
    private const int EINTR = 4;
    private const int EOPNOTSUPP = 95;
    private const int ENOSYS = 38;
    private const int O_RDONLY = 0;
    private const int O_CLOEXEC = 0x80000; // same value on x86-64 and aarch64 Linux

    [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static extern int SysFdatasync(int fd);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int SysFsync(int fd);

    [DllImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static extern int SysFallocate(int fd, int mode, long offset, long length);

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int SysOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int SysClose(int fd);

    /// <summary>Makes the file's data durable; on Linux without flushing timestamps.</summary>
    public static void DataSync(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            while (SysFdatasync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"fdatasync of '{path}' failed (errno {errno})");
                }
            }
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Makes data and metadata (size, allocation) durable.</summary>
    public static void FullSync(SafeFileHandle handle) => RandomAccess.FlushToDisk(handle);

    /// <summary>Reserves <paramref name="length"/> bytes and extends the file to that size; the new bytes read as zero.</summary>
    public static void Preallocate(SafeFileHandle handle, long length)
    {
        if (RandomAccess.GetLength(handle) >= length)
        {
            return;
        }
        if (OperatingSystem.IsLinux())
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            try
            {
                int fd = (int)handle.DangerousGetHandle();
                while (true)
                {
                    if (SysFallocate(fd, 0, 0, length) == 0)
                    {
                        return;
                    }
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    if (errno == EOPNOTSUPP || errno == ENOSYS) break; // file system without fallocate: sparse file below
                    throw new IOException($"fallocate of {length} bytes failed (errno {errno})");
                }
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
        }
        RandomAccess.SetLength(handle, length);
    }

    /// <summary>
    /// fsync of a directory, so that file creations, renames and deletions in it survive a crash.
    /// Windows has no equivalent (NTFS journals metadata), so it is a no-op there.
    /// </summary>
    public static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        int fd = SysOpen(directory, O_RDONLY | (OperatingSystem.IsLinux() ? O_CLOEXEC : 0));
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            while (SysFsync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"fsync of directory '{directory}' failed (errno {errno})");
                }
            }
        }
        finally
        {
            SysClose(fd);
        }
    }
}
