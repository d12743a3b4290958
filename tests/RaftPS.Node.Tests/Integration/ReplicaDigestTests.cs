using System.Buffers.Binary;
using System.Text;
using RaftPS.Client;
using RaftPS.Node.Storage;

namespace RaftPS.Node.Tests.Integration;

/// <summary>Digest checkpoints: replicas hash their state at the same index and compare; drift is found and reported.</summary>
public class ReplicaDigestTests
{
    private static readonly RaftClientOptions Patient = new() { Deadline = TimeSpan.FromSeconds(20) };

    [Fact]
    public async Task Every_replica_hashes_the_same_state_at_a_checkpoint()
    {
        await using var cluster = InProcessCluster.Start(3);
        await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, Patient);
        for (int i = 0; i < 40; i++) await client.PutAsync($"k{i % 7}", $"v{i}");
        await client.DeleteAsync("k3");

        var check = await client.VerifyReplicasAsync(TimeSpan.FromSeconds(20));

        Assert.True(check.Complete, Describe(check));
        Assert.Equal(3, check.Replicas.Count);
        // Each replica reports its latest digest: at the first checkpoint (compared directly) or past it (having compared
        // itself with the leader's digest there). Replicas at the same index hash the same state.
        Assert.All(check.Replicas, r => Assert.True(r.DigestIndex >= check.Index));
        Assert.All(check.Replicas.Where(r => r.DigestIndex == check.Index), r => Assert.Equal(check.Digest, r.Digest));
        Assert.All(check.Replicas.GroupBy(r => r.DigestIndex), g => Assert.Single(g.Select(r => r.Digest).Distinct()));
        // The second checkpoint carried the leader's digest at the first: every follower compared itself.
        await Eventually(() => cluster.Servers.Values.All(s => s!.Status.DigestVerifiedIndex >= check.Index || s.Status.Id == check.Leader));
        Assert.All(cluster.Servers.Values, s => Assert.Null(s!.Status.DigestMismatch));
    }

    [Fact]
    public async Task The_leader_appends_checkpoints_on_its_own_every_interval()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { DigestIntervalEntries = 25 });
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, Patient);
        for (int i = 0; i < 120; i++) await client.PutAsync($"p{i % 10}", $"v{i}");

        // Several checkpoints passed; each carried the leader's previous digest, which the followers confirmed.
        await Eventually(() => cluster.Servers.Values.All(s => s!.Status.Digest is not null)
            && cluster.Servers.Values.Where(s => s!.Status.Id != leader.Status.Id).All(s => s!.Status.DigestVerifiedIndex > 0));
        Assert.All(cluster.Servers.Values, s => Assert.Null(s!.Status.DigestMismatch));
    }

    [Fact]
    public async Task A_replica_whose_state_was_altered_on_disk_is_reported_as_differing()
    {
        await using var cluster = InProcessCluster.Start(3);
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, Patient);
        string victim = await AlterAFollowersStateAsync(cluster, client, leader);

        var check = await client.VerifyReplicasAsync(TimeSpan.FromSeconds(20));

        Assert.False(check.Consistent, Describe(check));
        var differing = check.Replicas.Where(r => r.State == ReplicaDigestState.Differs).Select(r => r.Id).ToArray();
        Assert.True(differing.SequenceEqual([victim]), $"expected only {victim} to differ: {Describe(check)}");
        // It compared itself with the leader's digest and says so in its status.
        await Eventually(() => cluster.Servers[victim]!.Status.DigestMismatch is not null);
        Assert.Contains("differs from the leader's", cluster.Servers[victim]!.Status.DigestMismatch);
    }

    [Fact]
    public async Task A_drifted_leader_is_outvoted_by_the_replicas_that_agree()
    {
        await using var cluster = InProcessCluster.Start(3);
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = RaftClient.Create(cluster.Cluster, Patient);
        string victim = await AlterAFollowersStateAsync(cluster, client, leader);
        await TransferUntilAsync(client, victim, () => cluster.Servers[victim]!.Status.Role == "Leader");
        Assert.Equal("Leader", cluster.Servers[victim]!.Status.Role);

        var check = await client.VerifyReplicasAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(victim, check.Leader);
        var differing = check.Replicas.Where(r => r.State == ReplicaDigestState.Differs).Select(r => r.Id).ToArray();
        Assert.True(differing.SequenceEqual([victim]), $"expected only the drifted leader {victim} to differ: {Describe(check)}");
    }

    /// <summary>
    /// A follower snapshots its state, stops, and its snapshot is edited behind its back (checksums made valid again):
    /// the kind of drift no checksum catches, only a comparison with the other replicas. Returns the follower's id once
    /// it runs again on the altered state.
    /// </summary>
    internal static async Task<string> AlterAFollowersStateAsync(InProcessCluster cluster, RaftClient client, RaftServer leader)
    {
        await client.PutAsync("drift/k", "original-AAAA");
        for (int i = 0; i < 10; i++) await client.PutAsync($"other{i}", "x");
        string victim = cluster.Cluster.Members.Select(m => m.Id).First(id => id != leader.Status.Id);
        var endpoint = cluster.Cluster.Members.Single(m => m.Id == victim).ResolveEndPoint();
        await Eventually(() => cluster.Servers[victim]!.Status.AppliedIndex >= leader.Status.AppliedIndex);
        ulong index = await client.SnapshotAsync(endpoint);
        await cluster.StopNodeAsync(victim);
        string dir = Path.Combine(cluster.Root, victim);
        string file = Path.Combine(dir, SnapshotFile.FileName(index));
        Assert.True(File.Exists(file), $"no {file}: {string.Join(", ", Directory.EnumerateFiles(dir).Select(Path.GetFileName))}");
        var snapshot = SnapshotFile.Read(file, index);
        byte[] data = Replace(snapshot.Data, "original-AAAA", "original-BBBB");
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(data.Length - 4), Crc32C.Compute(data.AsSpan(0, data.Length - 4)));
        File.Delete(file);
        RaftStorage.WriteSnapshotFile(dir, snapshot with { Data = data }, fsync: true);
        cluster.StartNode(victim);
        await Eventually(() => cluster.Servers[victim]!.Status.AppliedIndex >= index && cluster.Servers[victim]!.Status.Leader is not null);
        // The altered replica must not be the reference: should a loaded machine have made it leader, move leadership on.
        await TransferUntilAsync(client, cluster.Cluster.Members.First(m => m.Id != victim).Id, () => cluster.Servers[victim]!.Status.Role != "Leader");
        await Eventually(() => cluster.Servers[victim]!.Status.Role != "Leader" && cluster.Servers[victim]!.Status.Leader is not null);
        return victim;
    }

    /// <summary>Asks for leadership to move to <paramref name="target"/> until <paramref name="done"/> (bounded: 10 s).</summary>
    private static async Task TransferUntilAsync(RaftClient client, string target, Func<bool> done)
    {
        for (int i = 0; i < 40 && !done(); i++)
        {
            try { await client.TransferLeadershipAsync(target); }
            catch (RaftClientException) { } // a transfer under way, or an election: ask again
            await Task.Delay(250);
        }
    }

    private static byte[] Replace(byte[] data, string from, string to)
    {
        byte[] a = Encoding.UTF8.GetBytes(from), b = Encoding.UTF8.GetBytes(to);
        int at = data.AsSpan().IndexOf(a);
        Assert.True(at >= 0, $"'{from}' is not in the snapshot");
        var copy = (byte[])data.Clone();
        b.CopyTo(copy, at);
        return copy;
    }

    private static string Describe(ReplicaCheck c) =>
        $"checkpoint {c.Index} by {c.Leader} digest {c.Digest}: " +
        string.Join("; ", c.Replicas.Select(r => $"{r.Id} {r.State} at {r.DigestIndex} {r.Digest} {r.Detail}"));

    private static async Task Eventually(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(20);
        }
    }
}
