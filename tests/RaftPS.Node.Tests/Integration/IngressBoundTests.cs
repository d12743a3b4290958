using RaftPS.Client;

namespace RaftPS.Node.Tests.Integration;

/// <summary>The loop's ingress queue is bounded for peer messages too: a stalled loop sheds them like lost datagrams.</summary>
public class IngressBoundTests
{
    [Fact]
    public async Task A_stalled_node_sheds_peer_messages_beyond_its_queue_limit_and_recovers()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { MaxQueuedPeerMessages = 4 });
        var leader = await cluster.WaitForLeaderAsync();
        var follower = cluster.Servers.Values.Select(s => s!).First(s => s != leader);

        // Stall the follower's loop for a second: the leader's heartbeats (every 50 ms) pile up behind the limit.
        using var release = new ManualResetEventSlim();
        Assert.True(follower.RunOnLoop(() => release.Wait(TimeSpan.FromSeconds(10))));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (follower.PeerMessagesShed == 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        release.Set();
        Assert.True(follower.PeerMessagesShed > 0, "no peer message was shed while the loop stood still");

        // Shedding is loss, which Raft tolerates: the follower catches up and the cluster keeps serving.
        await using var client = RaftClient.Create(cluster.Cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(20) });
        var written = await client.PutAsync("after-stall", "ok");
        deadline = DateTime.UtcNow.AddSeconds(20);
        while (follower.Status.AppliedIndex < written.Version && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(follower.Status.AppliedIndex >= written.Version, $"follower applied {follower.Status.AppliedIndex}, write at {written.Version}");
    }
}
