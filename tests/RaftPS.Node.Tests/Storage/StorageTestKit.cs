using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.Storage;

namespace RaftPS.Node.Tests.Storage;

/// <summary>A fresh directory under the temp folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "raftps-storage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Collects log lines so tests can check that recovery warned.</summary>
internal sealed class ListLogger : ILogger
{
    public List<(LogLevel Level, string Message)> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Add((logLevel, formatter(state, exception)));

    public int Warnings => Lines.Count(l => l.Level == LogLevel.Warning);
}

internal static class Kit
{
    public static readonly WalOptions NoSync = new() { Fsync = false, SegmentBytes = 1 << 20 };

    public static WalOptions Small(long segmentBytes = 1024, bool fsync = false, bool preallocate = true) =>
        new() { Fsync = fsync, SegmentBytes = segmentBytes, Preallocate = preallocate };

    /// <summary>Deterministic entry whose data encodes index and term, so a wrong entry is visible.</summary>
    public static Entry E(ulong index, ulong term, int size = 20)
    {
        var data = new byte[size];
        for (int i = 0; i < size; i++)
        {
            data[i] = (byte)(index * 31 + term * 7 + (ulong)i);
        }
        return new Entry(term, index, EntryType.Normal, data);
    }

    public static List<Entry> Range(ulong from, ulong to, ulong term, int size = 20)
    {
        var list = new List<Entry>();
        for (ulong i = from; i <= to; i++) list.Add(E(i, term, size));
        return list;
    }

    public static RaftStorage Open(string dir, WalOptions options, out RecoveredState recovered, ListLogger? logger = null) =>
        RaftStorage.Open(dir, options, logger ?? new ListLogger(), out recovered);

    public static RecoveredState Reopen(string dir, WalOptions options, ListLogger? logger = null)
    {
        using RaftStorage s = Open(dir, options, out RecoveredState r, logger);
        return r;
    }

    public static void AssertEntries(IReadOnlyList<Entry> expected, IReadOnlyList<Entry> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(Same(expected[i], actual[i]), $"entry {i}: expected {expected[i]} got {actual[i]}");
        }
    }

    public static bool Same(Entry a, Entry b) =>
        a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && a.Data.AsSpan().SequenceEqual(b.Data);

    public static string[] Segments(string dir) =>
        Directory.GetFiles(dir, "wal-*.log").OrderBy(p => p, StringComparer.Ordinal).ToArray();

    public static string[] Snapshots(string dir) =>
        Directory.GetFiles(dir, "snap-*.snap").OrderBy(p => p, StringComparer.Ordinal).ToArray();

    public static Snapshot Snap(ulong index, ulong term, int size = 100)
    {
        var data = new byte[size];
        for (int i = 0; i < size; i++) data[i] = (byte)(index + (ulong)i);
        return new Snapshot(new SnapshotMetadata(index, term, ConfState.Of(1, 2, 3)), data);
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from))
        {
            if (System.IO.Path.GetFileName(f) == "LOCK") continue;
            File.Copy(f, System.IO.Path.Combine(to, System.IO.Path.GetFileName(f)));
        }
    }

    public static void FlipByte(string path, long offset)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = offset;
        int b = fs.ReadByte();
        fs.Position = offset;
        fs.WriteByte((byte)(b ^ 0x5A));
    }

    public static void ZeroRange(string path, long from, long to)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = from;
        fs.Write(new byte[to - from]);
    }

    public static void SetLength(string path, long length)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.SetLength(length);
    }
}
