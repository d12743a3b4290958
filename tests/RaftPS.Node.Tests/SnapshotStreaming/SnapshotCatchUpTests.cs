using System.Collections.Concurrent;
using RaftPS.Client;
using RaftPS.Node.SnapshotStreaming;
using RaftPS.Node.Tests.Durability;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.SnapshotStreaming;

/// <summary>Snapshots through real in-process nodes: streamed past the message limit, and taken without stalling the loop.</summary>
public sealed class SnapshotCatchUpTests
{
    private const int ValueBytes = 512 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private static RaftClientOptions Settings => new() { Deadline = TimeSpan.FromSeconds(30), AttemptTimeout = TimeSpan.FromMilliseconds(500) };

    private static byte[] ValueFor(int i)
    {
        var v = new byte[ValueBytes];
        new Random(i).NextBytes(v);
        return v;
    }

    private static string Key(int i) => $"big/{i:D4}";

    /// <summary>Writes values <paramref name="from"/>..<paramref name="to"/> (exclusive), a few at a time; returns each key's version.</summary>
    private static async Task<ulong[]> FillAsync(RaftClient client, int from, int to)
    {
        var versions = new ulong[to - from];
        await Parallel.ForAsync(from, to, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
            versions[i - from] = (await client.PutAsync(Key(i), ValueFor(i), ct)).Version);
        return versions;
    }

    [Fact]
    public async Task A_member_with_an_empty_data_directory_catches_up_through_a_snapshot_larger_than_the_message_limit()
    {
        const int count = 160; // 80 MiB of values
        var logs = new CapturingLoggerFactory();
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with
        {
            Fsync = false, SnapshotThresholdBytes = 8 << 20, EntriesKeptAfterSnapshot = 0, LoggerFactory = logs,
        });
        // The new member must never have acknowledged anything: a voter that lost acknowledged entries is refused by the
        // core (it stops rather than rejoin with a hole). Stopped before the first election, it has acknowledged nothing.
        const string victim = "n3";
        await cluster.StopNodeAsync(victim);
        Directory.Delete(Path.Combine(cluster.Root, victim), recursive: true);
        var leader = await cluster.WaitForLeaderAsync();
        var reports = new ConcurrentQueue<SnapshotTransferReport>();
        foreach (var s in cluster.Servers.Values.Where(s => s is not null)) s!.SnapshotTransferEnded += reports.Enqueue;

        await using var client = RaftClient.Create(cluster.Cluster, Settings);
        var versions = await FillAsync(client, 0, count);
        ulong last = versions.Max();
        // The leader's newest snapshot must hold more than 64 MiB of values: snapshots trail the log (by at least the
        // threshold, and by the previous snapshot's size once that is larger), so ask for one now.
        ulong enough = versions[140];
        // (A request that finds a snapshot already being written is answered with that one: ask again.)
        ulong snapshotIndex = 0;
        for (int i = 0; i < 10 && snapshotIndex < enough; i++) snapshotIndex = await client.SnapshotAsync(leader.EndPoint);
        Assert.True(snapshotIndex >= enough, $"leader snapshot at {snapshotIndex}, want {enough}");

        var fresh = cluster.StartNode(victim);
        await Wait.UntilAsync(() => fresh.Status.AppliedIndex >= last, Deadline,
            () => $"{victim} applied {fresh.Status.AppliedIndex} of {last}; streams: {string.Join("; ", reports)}\n"
                  + string.Join("\n", logs.Lines.TakeLast(40).Select(l => $"{l.Category}: {l.Message}")));

        Assert.True(fresh.SnapshotsReceived >= 1, "caught up without a snapshot");
        Assert.Contains(reports, r => r.Outcome == SnapshotTransferOutcome.Delivered && r.Bytes > 64L << 20);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(cluster.Root, victim, RaftServer.IncomingSnapshotDirectory)));
        await using var stale = new RaftClient(Settings with
        {
            Endpoints = [fresh.EndPoint], ClusterName = cluster.Cluster.ClusterName, PreferredEndpoint = fresh.EndPoint,
        });
        foreach (int i in new[] { 0, 77, count - 1 })
        {
            var item = await stale.GetAsync(Key(i), ReadConsistency.Stale);
            Assert.True(ValueFor(i).SequenceEqual(item.Value), $"{Key(i)} differs on {victim}");
        }
    }

    [Fact]
    public async Task The_loop_keeps_answering_while_a_snapshot_is_being_written()
    {
        await using var cluster = InProcessCluster.Start(1, (_, o) => o with { Fsync = false, SnapshotThresholdBytes = 1 << 20, EntriesKeptAfterSnapshot = 0 });
        var node = await cluster.WaitForLeaderAsync();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Holds the background writer until released: if snapshots were written on the loop, the loop would be stuck here.
        node.BeforeSnapshotWrite = async () =>
        {
            entered.TrySetResult();
            await release.Task;
        };
        await using var client = RaftClient.Create(cluster.Cluster, Settings);
        await FillAsync(client, 0, 4);
        await entered.Task.WaitAsync(Deadline);
        try
        {
            for (int i = 0; i < 30; i++)
            {
                var put = await client.PutAsync($"during/{i}", $"v{i}");
                Assert.Equal($"v{i}", System.Text.Encoding.UTF8.GetString((await client.GetAsync($"during/{i}")).Value));
                Assert.True(put.Version > 0);
            }
            Assert.Equal(0, node.SnapshotsTaken);
            Assert.Equal(0UL, node.Status.SnapshotIndex);
        }
        finally
        {
            release.TrySetResult();
        }
        await Wait.UntilAsync(() => node.SnapshotsTaken >= 1 && node.Status.SnapshotIndex > 0, Deadline,
            () => $"snapshot not adopted: taken {node.SnapshotsTaken}, snapshot index {node.Status.SnapshotIndex}");

        // What was written while the snapshot was in flight survives a restart from the snapshot plus the log tail.
        node.BeforeSnapshotWrite = null;
        await cluster.StopNodeAsync(node.NodeId);
        var again = cluster.StartNode(node.NodeId);
        await cluster.WaitForLeaderAsync();
        Assert.True(again.Status.SnapshotIndex > 0);
        Assert.Equal("v29", System.Text.Encoding.UTF8.GetString((await client.GetAsync("during/29")).Value));
        var big = await client.GetAsync(Key(3));
        Assert.True(ValueFor(3).SequenceEqual(big.Value));
    }

    [Fact]
    public async Task Snapshots_of_a_large_state_wait_for_as_much_new_log_as_the_state_is_large()
    {
        // Threshold 4 KiB, values of 1 KiB, 48 writes: without the size rule a snapshot would follow every ~4 KiB of log
        // (about a dozen, each rewriting the whole state); with it, each waits for as much log as the last snapshot held.
        await using var cluster = InProcessCluster.Start(1, (_, o) => o with { Fsync = false, SnapshotThresholdBytes = 4 << 10, EntriesKeptAfterSnapshot = 0 });
        var node = await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, Settings);
        var value = new byte[1024];
        for (int i = 0; i < 48; i++) await client.PutAsync($"big/{i:d2}", value);
        // Let the background writes finish: the count is final once it stood still for half a second.
        int taken = -1;
        for (int i = 0; i < 100 && taken != node.SnapshotsTaken; i++)
        {
            taken = node.SnapshotsTaken;
            await Task.Delay(500);
        }
        Assert.InRange(node.SnapshotsTaken, 1, 6);
    }
}
