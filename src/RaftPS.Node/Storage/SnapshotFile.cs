using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>
/// Snapshot file <c>snap-&lt;index:D20&gt;.snap</c>, little endian:
/// magic "RPSSNAP\0", version u32, index u64, term u64, conf state (voters, learners, outgoing voters, next learners:
/// each count u32 + ids u64; auto-leave u8), data length u64, data, then CRC-32C u32 over everything before it.
/// </summary>
internal static class SnapshotFile
{
    public const string Prefix = "snap-";
    public const string Suffix = ".snap";
    public const string CorruptSuffix = ".corrupt";
    // Version 2 adds the configuration's context (the member table with addresses) after the auto-leave flag.
    private const uint Version = 2;
    private const int SyncEveryBytes = 8 << 20;
    private static ReadOnlySpan<byte> Magic => "RPSSNAP\0"u8;

    public static string FileName(ulong index) => $"{Prefix}{index:D20}{Suffix}";

    public static bool TryParseName(string fileName, out ulong index)
    {
        index = 0;
        return fileName.Length == Prefix.Length + 20 + Suffix.Length
            && fileName.StartsWith(Prefix, StringComparison.Ordinal)
            && fileName.EndsWith(Suffix, StringComparison.Ordinal)
            && ulong.TryParse(fileName.AsSpan(Prefix.Length, 20), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    /// <summary>Writes the snapshot atomically: temp file, fsync, rename, fsync of the directory.</summary>
    public static string Write(string directory, Snapshot snapshot, bool fsync)
    {
        string path = Path.Combine(directory, FileName(snapshot.Index));
        string tmp = path + ".tmp";
        byte[] header = EncodeHeader(snapshot);
        uint crc = Crc32C.Update(Crc32C.Seed, header);
        crc = Crc32C.Finish(Crc32C.Update(crc, snapshot.Data));
        Span<byte> trailer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                fs.Write(header);
                // Sync as we go. On ext4 (data=ordered) the event loop's next WAL fsync can have to wait until every dirty
                // page of this file is on disk too: with hundreds of MiB dirty that wait stalls heartbeats past an election
                // timeout. A few MiB at a time keeps the loop's wait short (RocksDB's bytes_per_sync does the same).
                for (long offset = 0; offset < snapshot.Data.LongLength; offset += SyncEveryBytes)
                {
                    fs.Write(snapshot.Data.AsSpan((int)offset, (int)Math.Min(SyncEveryBytes, snapshot.Data.LongLength - offset)));
                    if (fsync) fs.Flush(flushToDisk: true);
                }
                fs.Write(trailer);
                fs.Flush(flushToDisk: fsync);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        if (fsync)
        {
            NativeIO.SyncDirectory(directory);
        }
        return path;
    }

    private static byte[] EncodeHeader(Snapshot snapshot)
    {
        ConfState cs = snapshot.Metadata.ConfState;
        var context = cs.Context ?? [];
        int size = Magic.Length + 4 + 8 + 8 + 4 * 4 + 8 * (cs.Voters.Count + cs.Learners.Count + cs.VotersOutgoing.Count + cs.LearnersNext.Count) + 1 + 4 + context.Length + 8;
        var header = new byte[size];
        Span<byte> p = header;
        Magic.CopyTo(p);
        p = p[Magic.Length..];
        BinaryPrimitives.WriteUInt32LittleEndian(p, Version);
        BinaryPrimitives.WriteUInt64LittleEndian(p[4..], snapshot.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(p[12..], snapshot.Term);
        p = p[20..];
        foreach (IReadOnlyList<ulong> ids in new[] { cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext })
        {
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)ids.Count);
            p = p[4..];
            for (int i = 0; i < ids.Count; i++)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(p, ids[i]);
                p = p[8..];
            }
        }
        p[0] = cs.AutoLeave ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(p[1..], (uint)context.Length);
        context.CopyTo(p[5..]);
        BinaryPrimitives.WriteUInt64LittleEndian(p[(5 + context.Length)..], (ulong)snapshot.Data.LongLength);
        return header;
    }

    /// <summary>Reads and verifies a snapshot file; throws <see cref="InvalidDataException"/> if it is damaged.</summary>
    public static Snapshot Read(string path, ulong expectedIndex)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(handle);
        long pos = 0;
        uint crc = Crc32C.Seed;
        Span<byte> fixedPart = stackalloc byte[Magic.Length + 20];
        ReadChecked(handle, ref pos, length, fixedPart, ref crc);
        if (!fixedPart[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException("not a snapshot file (bad magic)");
        }
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[8..]);
        if (version is not (1 or Version))
        {
            throw new InvalidDataException($"unsupported snapshot format version {version}");
        }
        ulong index = BinaryPrimitives.ReadUInt64LittleEndian(fixedPart[12..]);
        ulong term = BinaryPrimitives.ReadUInt64LittleEndian(fixedPart[20..]);
        if (index != expectedIndex)
        {
            throw new InvalidDataException($"file name says index {expectedIndex} but the header says {index}");
        }
        var lists = new ulong[4][];
        Span<byte> word = stackalloc byte[8];
        for (int l = 0; l < lists.Length; l++)
        {
            ReadChecked(handle, ref pos, length, word[..4], ref crc);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(word);
            if (count > (length - pos) / 8)
            {
                throw new InvalidDataException($"configuration list of {count} ids does not fit in the file");
            }
            lists[l] = new ulong[count];
            for (int i = 0; i < count; i++)
            {
                ReadChecked(handle, ref pos, length, word, ref crc);
                lists[l][i] = BinaryPrimitives.ReadUInt64LittleEndian(word);
            }
        }
        Span<byte> flag = stackalloc byte[1];
        ReadChecked(handle, ref pos, length, flag, ref crc);
        if (flag[0] > 1)
        {
            throw new InvalidDataException("bad auto-leave flag");
        }
        byte[]? context = null;
        if (version >= 2)
        {
            ReadChecked(handle, ref pos, length, word[..4], ref crc);
            uint contextLength = BinaryPrimitives.ReadUInt32LittleEndian(word);
            if (contextLength > length - pos)
            {
                throw new InvalidDataException($"configuration context of {contextLength} bytes does not fit in the file");
            }
            if (contextLength > 0)
            {
                context = new byte[contextLength];
                ReadChecked(handle, ref pos, length, context, ref crc);
            }
        }
        ReadChecked(handle, ref pos, length, word, ref crc);
        ulong dataLength = BinaryPrimitives.ReadUInt64LittleEndian(word);
        if (dataLength != (ulong)(length - pos - 4))
        {
            throw new InvalidDataException($"data length {dataLength} does not match the file size {length}");
        }
        var data = new byte[dataLength];
        ReadChecked(handle, ref pos, length, data, ref crc);
        Span<byte> trailer = stackalloc byte[4];
        uint ignored = 0;
        ReadChecked(handle, ref pos, length, trailer, ref ignored);
        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) != Crc32C.Finish(crc))
        {
            throw new InvalidDataException("checksum mismatch");
        }
        var conf = new ConfState(lists[0], lists[1], lists[2], lists[3], flag[0] == 1, context);
        return new Snapshot(new SnapshotMetadata(index, term, conf), data);
    }

    private static void ReadChecked(SafeFileHandle handle, ref long pos, long length, Span<byte> destination, ref uint crc)
    {
        if (length - pos < destination.Length)
        {
            throw new InvalidDataException($"file ends at {length} bytes, inside the header");
        }
        Span<byte> rest = destination;
        while (!rest.IsEmpty)
        {
            int n = RandomAccess.Read(handle, rest, pos);
            if (n <= 0)
            {
                throw new InvalidDataException("unexpected end of file");
            }
            rest = rest[n..];
            pos += n;
        }
        crc = Crc32C.Update(crc, destination);
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // best effort: a leftover temp file is removed on the next open
        }
    }
}
