using Microsoft.Win32.SafeHandles;
using RaftPS.Node.Storage;

namespace RaftPS.Node.Tests.Storage;

/// <summary>
/// The disk under the WAL, modelled at page granularity. The storage writes real files (the page cache); the disk
/// remembers each segment's bytes as of its last fsync (through <see cref="WalOptions.SyncHooks"/>), and can fail the
/// power between a segment's write and its fsync (<see cref="ArmPowerLoss"/>): the group-commit window. A power loss
/// then leaves, for every 4 KiB page written since that fsync, any of: the old page, the new page, or a page torn at
/// 512-byte sector granularity, where a sector that changed may also come back as garbage; and the file size anywhere
/// between the synced and the current one. Bytes that were durable are never changed (sector atomicity, what etcd
/// and SQLite assume). Directory operations are durable when they return (the storage syncs the directory after each).
/// </summary>
internal sealed class PageDisk : ISyncHooks
{
    public const int PageSize = 4096;
    public const int SectorSize = 512;

    private readonly Dictionary<string, byte[]> _durable = new(StringComparer.Ordinal);

    /// <summary>Thrown from inside a sync when the power fails there.</summary>
    public sealed class PowerFailedException() : IOException("power failed during a sync");

    private bool _armed;

    /// <summary>The next fsync of a segment does not happen: the power fails after its write.</summary>
    public void ArmPowerLoss() => _armed = true;

    public void Disarm() => _armed = false;

    public void BeforeSync(string path)
    {
        if (_armed)
        {
            _armed = false;
            throw new PowerFailedException();
        }
    }

    public void AfterSync(string path, SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        var bytes = new byte[length];
        int read = 0;
        while (read < length)
        {
            int n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n <= 0) break;
            read += n;
        }
        _durable[Path.GetFullPath(path)] = bytes;
    }

    /// <summary>What is on the platter for <paramref name="path"/> (empty if it was never synced).</summary>
    public byte[] Durable(string path) => _durable.GetValueOrDefault(Path.GetFullPath(path)) ?? [];

    /// <summary>
    /// Pulls the plug: reads what the segment files hold now (the storage must then be closed abruptly), and returns,
    /// per segment, what the disk holds after the power loss. Everything it returns becomes the durable state.
    /// </summary>
    public Dictionary<string, byte[]> PowerLoss(string dir, Random rng)
    {
        var images = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string path in Kit.Segments(dir))
        {
            byte[] current;
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                current = new byte[fs.Length];
                fs.ReadExactly(current);
            }
            images[Path.GetFullPath(path)] = Mangle(Durable(path), current, rng);
        }
        return images;
    }

    /// <summary>Writes the images as the files' contents and takes them as the durable state.</summary>
    public void Install(Dictionary<string, byte[]> images)
    {
        _durable.Clear();
        foreach ((string path, byte[] bytes) in images)
        {
            File.WriteAllBytes(path, bytes);
            _durable[path] = bytes;
        }
    }

    private static byte[] Mangle(byte[] synced, byte[] current, Random rng)
    {
        int lo = Math.Min(synced.Length, current.Length), hi = Math.Max(synced.Length, current.Length);
        int length = lo == hi ? lo : rng.Next(4) switch
        {
            0 => lo,
            1 => hi,
            _ => rng.Next(lo, hi + 1),
        };
        var image = new byte[length];
        for (int page = 0; page < length; page += PageSize)
        {
            int end = Math.Min(length, page + PageSize);
            int choice = rng.Next(10); // 0-3 old, 4-7 new, 8 torn, 9 torn with garbage
            for (int sector = page; sector < end; sector += SectorSize)
            {
                int sectorEnd = Math.Min(end, sector + SectorSize);
                int pick = choice switch
                {
                    < 4 => 0,
                    < 8 => 1,
                    8 => rng.Next(2),
                    _ => rng.Next(3),
                };
                for (int i = sector; i < sectorEnd; i++)
                {
                    byte old = i < synced.Length ? synced[i] : (byte)0;
                    byte now = i < current.Length ? current[i] : (byte)0;
                    image[i] = old == now ? old : pick switch
                    {
                        0 => old,
                        1 => now,
                        _ => (byte)rng.Next(256), // only bytes that changed since the sync: durable ones are never disturbed
                    };
                }
            }
        }
        return image;
    }
}
