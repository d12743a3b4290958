using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using RaftPS.Node.Storage;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// Durability tests start real clusters and measure nothing by wall clock, but they are timing-sensitive enough (elections,
/// fuzz floods) that running them one at a time keeps each one's view of the cluster undisturbed by the others.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DurabilityCollection
{
    public const string Name = "Durability";
}

/// <summary>
/// A synchronous client for durability tests: speaks the wire directly (with the cluster key when there is one), follows
/// NotLeader hints, rotates through the members on silence, and keeps a write's (client id, sequence) across retries so
/// the state machine applies it once (Raft thesis §6.3). Independent of the client library on purpose: these tests
/// must be able to blame the node.
/// </summary>
internal sealed class KvTestClient : IDisposable
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(300);

    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly ClientWire _wire;
    private readonly ClusterDefinition _cluster;
    private readonly IPEndPoint[] _endpoints;
    private readonly byte[] _buffer = new byte[65536];
    private int _target;
    private ulong _nextRequest;
    private ulong _nextSequence;

    public KvTestClient(ClusterDefinition cluster, ulong clientId = 0)
    {
        _cluster = cluster;
        _endpoints = cluster.Members.Select(m => m.ResolveEndPoint()).ToArray();
        _wire = new ClientWire(WireOptionsFor(cluster), cluster.ClusterId,
            clientId == 0 ? (ulong)Random.Shared.NextInt64(1, long.MaxValue) : clientId);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _socket.ReceiveTimeout = 50;
    }

    public ulong ClientId => _wire.ClientId;

    public static WireOptions WireOptionsFor(ClusterDefinition cluster) =>
        new() { Keys = cluster.Key is { Length: > 0 } k ? new Keyring(cluster.ClusterId, new ClusterCredentials { Client = [k] }) : null };

    /// <summary>One request to one node; null when no matching reply arrives within <paramref name="timeout"/>.</summary>
    public ClientReply? SendOnce(IPEndPoint to, ClientRequest request, TimeSpan timeout)
    {
        request = request with { RequestId = ++_nextRequest };
        foreach (var d in _wire.FrameRequest(request)) _socket.SendTo(d, to);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            int n;
            try { n = _socket.Receive(_buffer); }
            catch (SocketException) { continue; }
            if (_wire.TryParseReply(_buffer.AsSpan(0, n), Environment.TickCount64, out var reply) && reply.RequestId == request.RequestId)
                return reply;
        }
        return null;
    }

    /// <summary>
    /// Runs a request against the cluster until a node gives a definitive answer (anything but NotLeader or Unavailable).
    /// Null when <paramref name="deadline"/> passes first: for a write the outcome is then unknown.
    /// </summary>
    public ClientReply? Execute(ClientRequest request, TimeSpan deadline)
    {
        if ((request.Op is ClientOp.Put or ClientOp.Delete or ClientOp.CompareAndSet) && request.Sequence == 0)
            request = request with { ClientId = ClientId, Sequence = ++_nextSequence };
        var end = DateTime.UtcNow + deadline;
        while (DateTime.UtcNow < end)
        {
            var reply = SendOnce(_endpoints[_target], request, AttemptTimeout);
            if (reply is null)
            {
                _target = (_target + 1) % _endpoints.Length;
                continue;
            }
            if (reply.Status is ReplyStatus.NotLeader or ReplyStatus.Unavailable)
            {
                int hinted = reply.LeaderId is { } id ? IndexOf(id) : -1;
                _target = hinted >= 0 && hinted != _target ? hinted : (_target + 1) % _endpoints.Length;
                Thread.Sleep(20); // an election is probably under way
                continue;
            }
            return reply;
        }
        return null;
    }

    public ClientReply? Put(string key, string value, TimeSpan deadline) =>
        Execute(new ClientRequest { Op = ClientOp.Put, Key = key, Value = Encoding.UTF8.GetBytes(value) }, deadline);

    /// <summary>Linearizable get (ReadIndex on the leader).</summary>
    public ClientReply? Get(string key, TimeSpan deadline) =>
        Execute(new ClientRequest { Op = ClientOp.Get, Key = key }, deadline);

    /// <summary>Stale get served by one given node from its local state.</summary>
    public ClientReply? StaleGet(IPEndPoint node, string key, TimeSpan timeout) =>
        SendOnce(node, new ClientRequest { Op = ClientOp.Get, Key = key, Consistency = ReadConsistency.Stale }, timeout);

    public NodeStatus? Status(IPEndPoint node, TimeSpan timeout) =>
        SendOnce(node, new ClientRequest { Op = ClientOp.Status }, timeout)?.NodeStatus;

    private int IndexOf(string memberId)
    {
        for (int i = 0; i < _cluster.Members.Count; i++)
            if (string.Equals(_cluster.Members[i].Id, memberId, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>Reads the value of a Get reply as a string; null for KeyNotFound.</summary>
internal static class Replies
{
    public static string? ValueOf(ClientReply reply, string key)
    {
        if (reply.Status == ReplyStatus.KeyNotFound) return null;
        Assert.True(reply.Status == ReplyStatus.Ok, $"get '{key}': {reply.Status} {reply.Error}");
        return Encoding.UTF8.GetString(Assert.Single(reply.Items).Value);
    }

    public static ClientReply Require(ClientReply? reply, string what)
    {
        Assert.True(reply is not null, $"{what}: no answer before the deadline");
        return reply!;
    }
}

/// <summary>Bounded polling.</summary>
internal static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting: " + describe());
            await Task.Delay(20);
        }
    }
}

/// <summary>Waits for a quiet cluster to agree.</summary>
internal static class Settle
{
    /// <summary>
    /// Waits (bounded) until every node's last, commit and applied index are one and the same value of at least
    /// <paramref name="atLeast"/> (the log index of the last acknowledged write), and returns it. Needed because a
    /// node publishes its status after it has replied to the client, so a status read right after a reply may lag.
    /// </summary>
    public static async Task<ulong> AllAsync(IEnumerable<RaftServer> nodes, ulong atLeast, TimeSpan timeout)
    {
        var running = nodes.ToArray();
        await Wait.UntilAsync(() =>
        {
            var s = running.Select(n => n.Status).ToArray();
            return s[0].LastIndex >= atLeast && s.All(x => x.LastIndex == s[0].LastIndex && x.CommitIndex == x.LastIndex && x.AppliedIndex == x.LastIndex);
        }, timeout, () => string.Join(", ", running.Select(n => $"{n.NodeId}: last {n.Status.LastIndex} commit {n.Status.CommitIndex} applied {n.Status.AppliedIndex}")) + $" (want >= {atLeast})");
        return running[0].Status.LastIndex;
    }

    public static Task<ulong> AllAsync(Integration.InProcessCluster cluster, ulong atLeast, TimeSpan timeout) =>
        AllAsync(cluster.Servers.Values.Where(s => s is not null).Select(s => s!), atLeast, timeout);
}

/// <summary>Thread-safe in-memory logger factory, so a test can check what a node reported.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, string Message)> _lines = new();

    public IReadOnlyList<(LogLevel Level, string Category, string Message)> Lines => _lines.ToArray();

    public IEnumerable<string> MessagesAtLeast(LogLevel level) => _lines.Where(l => l.Level >= level).Select(l => l.Message);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose() { }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner._lines.Enqueue((logLevel, category, formatter(state, exception)));
        }
    }
}

/// <summary>One record found in a WAL segment by walking the on-disk format independently of the recovery code.</summary>
/// <param name="EntryIndex">Log index of an entry record, else 0.</param>
/// <param name="Commit">Commit index of a hard state or segment header record, else 0.</param>
internal readonly record struct WalRecordInfo(long Offset, int Length, RecordType Type, ulong EntryIndex, ulong Commit);

/// <summary>Finds WAL segments and their records so tests can damage them at exact places.</summary>
internal static class WalFiles
{
    /// <summary>Segment files of a data directory, oldest first.</summary>
    public static string[] Segments(string dataDir) =>
        Directory.EnumerateFiles(dataDir, WalFormat.SegmentPrefix + "*" + WalFormat.SegmentSuffix)
            .Where(p => WalFormat.TryParseSegmentName(Path.GetFileName(p), out _))
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToArray();

    /// <summary>Every valid record from the start of the file up to the first zero, short or damaged one.</summary>
    public static List<WalRecordInfo> Records(string segment)
    {
        var data = File.ReadAllBytes(segment);
        var records = new List<WalRecordInfo>();
        int pos = 0;
        while (WalFormat.TryReadHeader(data.AsSpan(pos), out uint crc, out uint length, out byte type))
        {
            if (!WalFormat.PlausiblePayload(type, length) || length > data.Length - pos - WalFormat.HeaderSize) break;
            if (WalFormat.ComputeCrc(data.AsSpan(pos), (int)length) != crc) break;
            var payload = data.AsSpan(pos + WalFormat.HeaderSize, (int)length);
            ulong index = type == (byte)RecordType.Entry ? WalFormat.ReadEntry(payload).Index : 0;
            ulong commit = type switch
            {
                (byte)RecordType.HardState => WalFormat.ReadHardState(payload).Commit,
                (byte)RecordType.SegmentHeader => WalFormat.ReadSegmentHeader(payload)?.HardState.Commit ?? 0,
                _ => 0,
            };
            int size = WalFormat.HeaderSize + (int)length;
            records.Add(new WalRecordInfo(pos, size, (RecordType)type, index, commit));
            pos += size;
        }
        return records;
    }

    public static void FlipByte(string file, long offset)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = offset;
        int b = fs.ReadByte();
        fs.Position = offset;
        fs.WriteByte((byte)(b ^ 0x5A));
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Leaves what a crash in the middle of writing an unsynced record leaves: the first half of a record for the entry
    /// after the last one, and the file ending there. Nothing torn this way was ever acknowledged, unlike cutting a
    /// record that is already in the file (that one may have been acknowledged to a leader, which then never resends it).
    /// </summary>
    /// <returns>The offset where the torn record starts.</returns>
    public static long AppendTornEntry(string segment)
    {
        var records = Records(segment);
        var last = records[^1];
        var lastEntry = records.Last(r => r.Type == RecordType.Entry);
        var data = File.ReadAllBytes(segment);
        var previous = WalFormat.ReadEntry(data.AsSpan((int)lastEntry.Offset + WalFormat.HeaderSize, lastEntry.Length - WalFormat.HeaderSize));
        var next = new RaftPS.Consensus.Entry(previous.Term, previous.Index + 1, RaftPS.Consensus.EntryType.Normal, new byte[64]);
        var record = new byte[WalFormat.EntryRecordSize(next)];
        WalFormat.WriteEntry(record, next);
        long end = last.Offset + last.Length;
        using var fs = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite);
        fs.Position = end;
        fs.Write(record, 0, record.Length / 2);
        fs.SetLength(end + record.Length / 2);
        fs.Flush(flushToDisk: true);
        return end;
    }

    public static void Truncate(string file, long length)
    {
        using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        fs.SetLength(length);
        fs.Flush(flushToDisk: true);
    }
}

/// <summary>Cluster definitions for tests that need their own (a key, a file for `raftps`).</summary>
internal static class Clusters
{
    public static ClusterDefinition Local(int size, string? key = null)
    {
        var ports = FreePorts.Udp(size);
        return new ClusterDefinition("dur-" + Guid.NewGuid().ToString("N")[..8],
            Enumerable.Range(1, size).Select(i => new ClusterMember($"n{i}", "127.0.0.1", ports[i - 1])), key);
    }

    /// <summary>The same members and name with a shared key (so the wire id and ports stay).</summary>
    public static ClusterDefinition WithKey(ClusterDefinition cluster, string key) => new(cluster.ClusterName, cluster.Members, key);
}
