using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Client;

public sealed class RaftClientConcurrencyTests
{
    [Fact]
    public async Task ThousandConcurrentRequestsComplete()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromSeconds(20) });

        var tasks = Enumerable.Range(0, 1000).Select(async i =>
        {
            string key = $"k{i % 100}";
            if (i % 2 == 0) return (await client.PutAsync(key, BitConverter.GetBytes(i))).Version;
            return (await client.TryGetAsync(key))?.Version ?? 0;
        }).ToArray();
        await Task.WhenAll(tasks);

        var writes = node.Writes.DistinctBy(w => (w.ClientId, w.Sequence)).ToArray();
        Assert.Equal(500, kv.Applied);
        // Each write its own (client, sequence), and never two different keys under one pair.
        Assert.Equal(500, writes.Length);
        Assert.All(node.Writes, w => Assert.Equal(writes.Single(x => (x.ClientId, x.Sequence) == (w.ClientId, w.Sequence)).Key, w.Key));
        Assert.InRange(writes.Select(w => w.ClientId).Distinct().Count(), 1, client.Options.MaxSessions);
        // Sequences of each session are consecutive from 1: lanes are never shared by two writes at once.
        foreach (var session in writes.GroupBy(w => w.ClientId))
            Assert.Equal(Enumerable.Range(1, session.Count()).Select(x => (ulong)x), session.Select(w => w.Sequence).Order());
    }

    [Fact]
    public async Task ConcurrentWritesThroughLossAreAppliedExactlyOnce()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        int seen = 0;
        // Apply every write but lose every 7th reply: retried writes must hit their session's recorded answer.
        node.Handler = (_, r) =>
        {
            var reply = kv.Handle(r);
            return Interlocked.Increment(ref seen) % 7 == 0 ? null : reply;
        };
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromSeconds(20), MaxSessions = 16, AttemptTimeout = FakeNode.Short });

        var results = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => client.PutAsync($"k{i}", [(byte)i])));

        Assert.Equal(400, kv.Applied);
        Assert.True(kv.Duplicates > 0, "some replies were dropped, so some writes were retried");
        Assert.Equal(400, results.Select(r => r.Version).Distinct().Count());
        for (int i = 0; i < 400; i++) Assert.Equal(results[i].Version, kv.Get($"k{i}")!.Version);
        Assert.InRange(kv.SessionCount, 1, 16);
        Assert.Equal(0, client.SessionsRenewed);
    }

    [Fact]
    public async Task ConcurrentRequestsFollowOneRedirect()
    {
        await using var follower = new FakeNode("f");
        await using var leader = new FakeNode("l");
        var kv = new FakeKv();
        follower.Handler = (_, _) => FakeNode.NotLeader(leader.Address);
        leader.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(follower, leader));

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.PutAsync($"k{i}", "v")));
        Assert.Equal(200, kv.Applied);
        Assert.Equal(leader.EndPoint, client.KnownLeader);
        // Requests started before the leader was known may each have been redirected once, never more.
        Assert.InRange(follower.RequestCount, 1, 200);
        Assert.Equal(200, leader.Writes.DistinctBy(w => (w.ClientId, w.Sequence)).Count());
    }
}
