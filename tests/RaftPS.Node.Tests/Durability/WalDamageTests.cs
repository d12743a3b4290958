using Microsoft.Extensions.Logging;
using RaftPS.Node.Storage;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// WAL damage seen from a whole node: a torn last record is cut away and reported, and the node rejoins; damage with
/// valid records after it stops the node from starting, names the file and offset, and changes nothing on disk.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class WalDamageTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private sealed record Write(string Key, string Value, ulong Version);

    /// <summary>Writes overwrite a few keys many times, so which version survives is visible.</summary>
    private static List<Write> WriteSome(KvTestClient client, int count, string tag)
    {
        var writes = new List<Write>();
        for (int i = 0; i < count; i++)
        {
            string key = $"k{i % 12}", value = $"{tag}-{i}";
            var reply = Replies.Require(client.Put(key, value, Deadline), "put " + key);
            Assert.True(reply.Status == ReplyStatus.Ok, $"put {key}: {reply.Status} {reply.Error}");
            writes.Add(new Write(key, value, reply.Version));
        }
        return writes;
    }

    /// <summary>Each key's value after applying the writes up to <paramref name="applied"/> (null: not yet written).</summary>
    private static Dictionary<string, string?> StateAt(IEnumerable<Write> writes, ulong applied)
    {
        var state = new Dictionary<string, string?>();
        foreach (var w in writes)
        {
            if (!state.ContainsKey(w.Key)) state[w.Key] = null;
            if (w.Version <= applied) state[w.Key] = w.Value;
        }
        return state;
    }

    private static Task WaitAllApplied(InProcessCluster cluster, IEnumerable<Write> writes) =>
        Settle.AllAsync(cluster, writes.Max(w => w.Version), Deadline);

    public static TheoryData<string, string> TornCases() => new()
    {
        { "follower", "header" },
        { "follower", "payload" },
        { "leader", "payload" },
        { "follower", "unsynced" },
    };

    /// <summary>
    /// "header"/"payload": the last entry record already in the file is cut inside its header or payload. That record
    /// was acknowledged, so this is more than a crash can do; it is safe here only because every node holds every
    /// entry and the whole cluster restarts (a new leader probes every follower's log). "unsynced": the file ends
    /// inside a half-written record after the last one, which is what a crash during an unsynced write leaves.
    /// </summary>
    [Theory]
    [MemberData(nameof(TornCases))]
    public async Task Node_with_a_torn_last_record_starts_reports_it_keeps_earlier_data_and_rejoins(string role, string cutIn)
    {
        var logs = new Dictionary<string, CapturingLoggerFactory>();
        await using var cluster = InProcessCluster.Start(3, (id, o) =>
        {
            if (!logs.TryGetValue(id, out var f)) logs[id] = f = new CapturingLoggerFactory();
            return o with { LoggerFactory = f };
        });
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(cluster.Cluster);
        var writes = WriteSome(client, 40, "before");
        await WaitAllApplied(cluster, writes);
        string id = role == "leader" ? leader.NodeId : cluster.Servers.Values.First(s => s != leader)!.NodeId;
        foreach (var m in cluster.Cluster.Members) await cluster.StopNodeAsync(m.Id);

        string segment = WalFiles.Segments(Path.Combine(cluster.Root, id)).Last();
        var records = WalFiles.Records(segment);
        var lastEntry = records.Last(r => r.Type == RecordType.Entry);
        ulong expectedLast, durableCommit;
        if (cutIn == "unsynced")
        {
            WalFiles.AppendTornEntry(segment);
            expectedLast = lastEntry.EntryIndex;
            durableCommit = records.Last(r => r.Type is RecordType.HardState or RecordType.SegmentHeader).Commit;
        }
        else
        {
            long cut = cutIn == "header"
                ? lastEntry.Offset + 7 // CRC and part of the length field
                : lastEntry.Offset + WalFormat.HeaderSize + (lastEntry.Length - WalFormat.HeaderSize) / 2;
            WalFiles.Truncate(segment, cut);
            expectedLast = lastEntry.EntryIndex - 1;
            durableCommit = records.Last(r => r.Offset < lastEntry.Offset && r.Type is RecordType.HardState or RecordType.SegmentHeader).Commit;
        }

        // Alone (no peer can refill it): it starts, says what it cut, and serves everything before the cut.
        logs[id] = new CapturingLoggerFactory();
        var alone = cluster.StartNode(id);
        var warnings = logs[id].MessagesAtLeast(LogLevel.Warning).ToArray();
        Assert.Contains(warnings, m => m.Contains("torn", StringComparison.OrdinalIgnoreCase) && m.Contains(Path.GetFileName(segment), StringComparison.Ordinal));
        await Wait.UntilAsync(() => alone.Status.CommitIndex >= durableCommit && alone.Status.AppliedIndex >= alone.Status.CommitIndex, Deadline,
            () => $"{id} alone: commit {alone.Status.CommitIndex} (durable {durableCommit}), applied {alone.Status.AppliedIndex}");
        var status = alone.Status;
        Assert.Equal(expectedLast, status.LastIndex);
        RestartTests.AssertStaleReads(client, alone, StateAt(writes, status.AppliedIndex));

        // With its peers back it catches up on the cut entry and everything after, and serves again.
        foreach (var m in cluster.Cluster.Members.Where(m => m.Id != id)) cluster.StartNode(m.Id);
        leader = await cluster.WaitForLeaderAsync();
        writes.AddRange(WriteSome(client, 5, "after"));
        await WaitAllApplied(cluster, writes);
        RestartTests.AssertStaleReads(client, alone, StateAt(writes, ulong.MaxValue));
        RestartTests.AssertLinearizableReads(client, StateAt(writes, ulong.MaxValue));
        Assert.False(alone.Completion.IsCompleted, $"{id} stopped: {alone.Completion.Exception?.GetBaseException().Message}");
    }

    public static TheoryData<string, long> DamageCases() => new()
    {
        { "entry payload, valid records after it", 64L << 20 },
        { "record length field, valid records after it", 64L << 20 },
        { "segment header of the last segment", 64L << 20 },
        { "last record of a sealed segment", 4096 },
    };

    [Theory]
    [MemberData(nameof(DamageCases))]
    public async Task Node_with_damage_inside_its_wal_refuses_to_start_names_file_and_offset_and_leaves_the_data_intact(string damage, long segmentBytes)
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { SegmentBytes = segmentBytes });
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(cluster.Cluster);
        var writes = WriteSome(client, 60, "v");
        await WaitAllApplied(cluster, writes);
        var victim = cluster.Servers.Values.First(s => s != leader)!;
        string id = victim.NodeId;
        ulong lastIndex = victim.Status.LastIndex;
        await cluster.StopNodeAsync(id);

        var segments = WalFiles.Segments(Path.Combine(cluster.Root, id));
        string segment;
        WalRecordInfo record;
        long flipAt;
        if (damage.StartsWith("last record of a sealed", StringComparison.Ordinal))
        {
            Assert.True(segments.Length >= 2, $"only {segments.Length} segment(s): nothing is sealed");
            segment = segments[^2];
            record = WalFiles.Records(segment).Last();
            flipAt = record.Offset + WalFormat.HeaderSize + (record.Length - WalFormat.HeaderSize) / 2;
        }
        else if (damage.StartsWith("segment header", StringComparison.Ordinal))
        {
            segment = segments[^1];
            record = WalFiles.Records(segment)[0];
            flipAt = record.Offset + WalFormat.HeaderSize + 10;
        }
        else
        {
            segment = segments[^1];
            var records = WalFiles.Records(segment);
            var entries = records.Where(r => r.Type == RecordType.Entry).ToList();
            Assert.True(entries.Count >= 3, $"only {entries.Count} entries in the last segment");
            record = entries[entries.Count / 2];
            flipAt = damage.StartsWith("record length", StringComparison.Ordinal)
                ? record.Offset + 7 // top byte of the length: an impossible length
                : record.Offset + WalFormat.HeaderSize + (record.Length - WalFormat.HeaderSize) / 2;
        }
        WalFiles.FlipByte(segment, flipAt);
        var damaged = File.ReadAllBytes(segment);

        var ex = Assert.Throws<WalCorruptionException>(() => cluster.StartNode(id));
        Assert.Equal(Path.GetFullPath(segment), Path.GetFullPath(ex.File));
        Assert.Equal(record.Offset, ex.Offset);
        Assert.Contains(Path.GetFileName(segment), ex.Message, StringComparison.Ordinal);
        // Refusing to start must not "repair" anything: the evidence stays as it was.
        Assert.Equal(damaged, File.ReadAllBytes(segment));
        Assert.Equal(segments, WalFiles.Segments(Path.Combine(cluster.Root, id)));

        // The other two keep serving.
        var put = Replies.Require(client.Put("while-damaged", "1", Deadline), "put while a node is down");
        Assert.Equal(ReplyStatus.Ok, put.Status);
        writes.Add(new Write("while-damaged", "1", put.Version));

        // Undo the damage: the node comes back with everything it had and catches up.
        WalFiles.FlipByte(segment, flipAt);
        var restarted = cluster.StartNode(id);
        await Wait.UntilAsync(() => restarted.Status.LastIndex >= lastIndex, Deadline, () => $"{id} last index {restarted.Status.LastIndex} < {lastIndex}");
        await WaitAllApplied(cluster, writes);
        RestartTests.AssertStaleReads(client, restarted, StateAt(writes, ulong.MaxValue));
    }
}
