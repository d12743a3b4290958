using System.Collections.Concurrent;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// In-process restarts of real nodes (real UDP, real WAL and snapshot files): what a node recovers from its own data
/// directory, and how it catches up with what it missed.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class RestartTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    /// <summary>Snapshot after every KiB of log and keep nothing behind it, so a follower that was away needs a snapshot.</summary>
    private static NodeOptions Compacting(NodeOptions o) => o with { SnapshotThresholdBytes = 1024, EntriesKeptAfterSnapshot = 0 };

    [Fact]
    public async Task Follower_restarted_after_the_leader_compacted_past_it_catches_up_by_snapshot_and_serves_latest_values()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => Compacting(o));
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(cluster.Cluster);
        var latest = new Dictionary<string, string?>();
        ulong last = WriteRounds(client, latest, rounds: 1, keys: 10, tag: "before");
        await Settle.AllAsync(cluster, last, Deadline);

        var follower = cluster.Servers.Values.First(s => s != leader)!;
        string id = follower.NodeId;
        ulong followerLast = follower.Status.LastIndex;
        await cluster.StopNodeAsync(id);

        // Overwrite every key several times and add new ones while the follower is down.
        WriteRounds(client, latest, rounds: 5, keys: 20, tag: "while-down");
        var delete = Replies.Require(client.Execute(new ClientRequest { Op = ClientOp.Delete, Key = "k3" }, Deadline), "delete k3");
        Assert.Equal(ReplyStatus.Ok, delete.Status);
        latest["k3"] = null;

        leader = await cluster.WaitForLeaderAsync();
        await Settle.AllAsync(cluster, delete.Version, Deadline);
        // The entries right after the follower's log are gone from the leader: only InstallSnapshot can bring it back.
        // Snapshots are written in the background, so the compaction may trail the last write a little.
        await Wait.UntilAsync(() => leader.Status.SnapshotIndex > followerLast + 1, Deadline,
            () => $"the leader did not compact past the follower (leader snapshot {leader.Status.SnapshotIndex}, follower last index {followerLast})");
        var leaderStatus = leader.Status;

        var restarted = cluster.StartNode(id);
        await Wait.UntilAsync(() => restarted.Status.AppliedIndex >= leaderStatus.AppliedIndex, Deadline,
            () => $"{id} applied {restarted.Status.AppliedIndex}, leader {leaderStatus.AppliedIndex}");
        Assert.True(restarted.Status.SnapshotIndex >= leaderStatus.SnapshotIndex,
            $"{id} caught up without the leader's snapshot? its snapshot index {restarted.Status.SnapshotIndex} < {leaderStatus.SnapshotIndex}");
        AssertStaleReads(client, restarted, latest);
        Assert.False(restarted.Completion.IsCompleted, "the restarted node stopped");

        // And it takes part again: a new write reaches it.
        var put = Replies.Require(client.Put("after", "1", Deadline), "put after restart");
        Assert.Equal(ReplyStatus.Ok, put.Status);
        await Wait.UntilAsync(() => restarted.Status.AppliedIndex >= put.Version, Deadline, () => $"{id} did not apply {put.Version}");
        latest["after"] = "1";
        AssertStaleReads(client, restarted, latest);
    }

    public static TheoryData<string, bool> RestartCases() => new()
    {
        { "leader", false },
        { "follower", false },
        { "leader", true },
        { "follower", true },
    };

    /// <summary>
    /// All nodes are stopped and one of them is started alone: nothing can reach it from a peer, so whatever it serves
    /// comes from its own WAL (and snapshot, when <paramref name="snapshots"/> is set).
    /// </summary>
    [Theory]
    [MemberData(nameof(RestartCases))]
    public async Task Node_restarted_alone_from_its_data_directory_serves_everything_it_had_applied(string role, bool snapshots)
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => snapshots ? o with { SnapshotThresholdBytes = 2048, EntriesKeptAfterSnapshot = 3 } : o);
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(cluster.Cluster);
        var latest = new Dictionary<string, string?>();
        ulong last = WriteRounds(client, latest, rounds: 3, keys: 15, tag: role);
        foreach (var key in new[] { "k1", "k7" })
        {
            var delete = Replies.Require(client.Execute(new ClientRequest { Op = ClientOp.Delete, Key = key }, Deadline), "delete");
            Assert.Equal(ReplyStatus.Ok, delete.Status);
            last = delete.Version;
            latest[key] = null;
        }

        var all = cluster.Servers.Values.Select(s => s!).ToArray();
        await Settle.AllAsync(all, last, Deadline);
        var chosen = role == "leader" ? leader : all.First(s => s != leader);
        string id = chosen.NodeId;
        ulong applied = chosen.Status.AppliedIndex;
        // Snapshots are written in the background: the last one may still be on its way to disk.
        if (snapshots)
            await Wait.UntilAsync(() => chosen.Status.SnapshotIndex > 0, Deadline, () => $"{id} took no snapshot, the case would not test snapshot recovery");
        foreach (var s in all) await cluster.StopNodeAsync(s.NodeId);

        var alone = cluster.StartNode(id);
        await Wait.UntilAsync(() => alone.Status.AppliedIndex >= applied, Deadline,
            () => $"{id} alone re-applied only up to {alone.Status.AppliedIndex} of {applied}");
        AssertStaleReads(client, alone, latest);

        foreach (var m in cluster.Cluster.Members.Where(m => m.Id != id)) cluster.StartNode(m.Id);
        await cluster.WaitForLeaderAsync();
        AssertLinearizableReads(client, latest);
        Assert.Equal(ReplyStatus.Ok, Replies.Require(client.Put("after-restart", "x", Deadline), "put after restart").Status);
    }

    /// <summary>
    /// Writers keep writing while every node is stopped (writes in flight then have unknown outcomes); after the restart
    /// each key holds its last acknowledged value or a later attempted one, never an older one.
    /// </summary>
    [Fact]
    public async Task Whole_cluster_stopped_under_load_and_restarted_keeps_every_acknowledged_write()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { SnapshotThresholdBytes = 8192, EntriesKeptAfterSnapshot = 10 });
        await cluster.WaitForLeaderAsync();
        const int Writers = 4, KeysPerWriter = 3;
        var acked = new ConcurrentDictionary<string, int>();
        var attempted = new ConcurrentDictionary<string, HashSet<int>>();
        var errors = new ConcurrentQueue<string>();
        int totalAcked = 0;
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            using var c = new KvTestClient(cluster.Cluster);
            // One writer per key, each value larger than the last: the surviving value orders against the acknowledged one.
            for (int i = 1; i < 100_000 && !stop.IsCancellationRequested; i++)
            {
                string key = $"w{w}-{i % KeysPerWriter}";
                lock (attempted) attempted.GetOrAdd(key, _ => []).Add(i);
                var reply = c.Put(key, i.ToString(System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(1));
                if (reply is null) continue; // unknown outcome
                if (reply.Status != ReplyStatus.Ok) errors.Enqueue($"{key}={i}: {reply.Status} {reply.Error}");
                else
                {
                    acked[key] = i;
                    Interlocked.Increment(ref totalAcked);
                }
            }
        })).ToArray();
        try
        {
            await Wait.UntilAsync(() => Volatile.Read(ref totalAcked) >= 150 || writers.Any(t => t.IsCompleted), Deadline, () => $"only {totalAcked} writes acknowledged");
            foreach (var m in cluster.Cluster.Members) await cluster.StopNodeAsync(m.Id);
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(writers);
        }
        Assert.Empty(errors);
        Assert.True(totalAcked >= 150, $"writers stopped early: {totalAcked} acknowledged");

        foreach (var m in cluster.Cluster.Members) cluster.StartNode(m.Id);
        await cluster.WaitForLeaderAsync();
        using var reader = new KvTestClient(cluster.Cluster);
        foreach (var (key, ack) in acked)
        {
            var value = Replies.ValueOf(Replies.Require(reader.Get(key, Deadline), "get " + key), key);
            Assert.NotNull(value);
            int v = int.Parse(value!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(v >= ack, $"{key}: acknowledged {ack} but found {v} after the restart");
            lock (attempted) Assert.Contains(v, attempted[key]);
        }
    }

    // ------------------------------------------------------------------ helpers

    /// <returns>The log index of the last write.</returns>
    internal static ulong WriteRounds(KvTestClient client, Dictionary<string, string?> latest, int rounds, int keys, string tag)
    {
        ulong last = 0;
        for (int r = 0; r < rounds; r++)
        {
            for (int k = 0; k < keys; k++)
            {
                string key = $"k{k}", value = $"{tag}-r{r}-{key}-{new string('v', 40)}";
                var reply = Replies.Require(client.Put(key, value, Deadline), $"put {key}");
                Assert.True(reply.Status == ReplyStatus.Ok, $"put {key}: {reply.Status} {reply.Error}");
                latest[key] = value;
                last = reply.Version;
            }
        }
        return last;
    }

    internal static void AssertStaleReads(KvTestClient client, RaftServer node, IReadOnlyDictionary<string, string?> latest)
    {
        foreach (var (key, expected) in latest)
        {
            var reply = Replies.Require(client.StaleGet(node.EndPoint, key, TimeSpan.FromSeconds(5)), $"stale get {key} on {node.NodeId}");
            Assert.True(reply.Stale || reply.Status == ReplyStatus.KeyNotFound, "a stale read must be labelled stale");
            Assert.True(expected == Replies.ValueOf(reply, key), $"{node.NodeId}: '{key}' is '{Replies.ValueOf(reply, key)}', expected '{expected}'");
        }
    }

    internal static void AssertLinearizableReads(KvTestClient client, IReadOnlyDictionary<string, string?> latest)
    {
        foreach (var (key, expected) in latest)
        {
            var reply = Replies.Require(client.Get(key, Deadline), "get " + key);
            Assert.True(expected == Replies.ValueOf(reply, key), $"'{key}' is '{Replies.ValueOf(reply, key)}', expected '{expected}'");
        }
    }
}
