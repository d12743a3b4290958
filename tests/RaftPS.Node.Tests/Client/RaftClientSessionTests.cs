using System.Text;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Client;

/// <summary>Exactly-once writes through session lanes (Raft thesis §6.3).</summary>
public sealed class RaftClientSessionTests
{
    [Fact]
    public async Task RetriesResendTheSameClientIdAndSequence()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        var sends = new System.Collections.Concurrent.ConcurrentDictionary<(ulong, ulong), int>();
        // Drop the first two sends of every write: the client must retry with the same session identity.
        node.Handler = (_, r) => sends.AddOrUpdate((r.ClientId, r.Sequence), 1, (_, n) => n + 1) > 2 ? kv.Handle(r) : null;
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxSessions = 1, AttemptTimeout = FakeNode.Short });

        var first = await client.PutAsync("a", "1");
        var second = await client.PutAsync("b", "2");

        var writes = node.Writes;
        Assert.Equal(writes.Count, writes.Select(w => w.RequestId).Distinct().Count());
        ulong clientId = writes[0].ClientId;
        // Every send of "a" is (client, 1); after its definitive answer the lane advanced: same client, sequence 2.
        Assert.All(writes.Where(w => w.Key == "a"), w => Assert.Equal((clientId, 1UL), (w.ClientId, w.Sequence)));
        Assert.All(writes.Where(w => w.Key == "b"), w => Assert.Equal((clientId, 2UL), (w.ClientId, w.Sequence)));
        Assert.True(writes.Count(w => w.Key == "a") >= 3);
        Assert.True(writes.Count(w => w.Key == "b") >= 3);
        Assert.Equal(2, kv.Applied);
        Assert.True(second.Version > first.Version);
    }

    [Fact]
    public async Task LostRepliesDoNotApplyTwice()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        int seen = 0;
        // Apply every write, but lose the reply of the first send: the retry must hit the session's recorded answer.
        node.Handler = (_, r) =>
        {
            var reply = kv.Handle(r);
            return r.Op == ClientOp.Status || Interlocked.Increment(ref seen) % 2 == 0 ? reply : null;
        };
        await using var client = new RaftClient(FakeNode.Options(node) with { AttemptTimeout = FakeNode.Short });

        var put = await client.PutAsync("k", "v");
        Assert.Equal(1, kv.Applied);
        Assert.True(kv.Duplicates >= 1);
        Assert.Equal(put.Version, kv.Get("k")!.Version);
    }

    [Fact]
    public async Task UnknownOutcomeRetiresTheLane()
    {
        await using var node = new FakeNode(); // silent at first: the write's outcome is unknown at the deadline
        var kv = new FakeKv();
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxSessions = 1, AttemptTimeout = FakeNode.Short, Deadline = TimeSpan.FromMilliseconds(400) });

        var e = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.PutAsync("k", "lost"));
        Assert.True(e.OutcomeUnknown);
        Assert.Equal(RaftErrorIds.Timeout, e.ErrorId);
        Assert.Contains(node.EndPoint, e.TriedEndpoints);
        var unresolved = node.Writes[0];
        Assert.All(node.Writes, w => Assert.Equal((unresolved.ClientId, 1UL), (w.ClientId, w.Sequence)));
        Assert.Equal(1, client.SessionsRenewed);

        node.Handler = (_, r) => kv.Handle(r);
        KvItem? item = null;
        // Bounded retries: a heavily loaded machine can miss even this deadline, which only renews the lane again.
        for (int i = 0; i < 5 && item is null; i++)
        {
            try { item = await client.PutAsync("k", "next"); }
            catch (RaftTimeoutException) { }
        }
        Assert.NotNull(item);
        // The only lane went on under a new identity: (old client, 1) never carried a different request.
        Assert.All(node.Writes.Where(w => w.ClientId == unresolved.ClientId), w => Assert.Equal("lost", Encoding.UTF8.GetString(w.Value!)));
        Assert.NotEqual(unresolved.ClientId, node.Writes[^1].ClientId);
        Assert.Equal(1UL, node.Writes[^1].Sequence);
    }

    [Fact]
    public async Task SessionExpiredOnFirstSendRetriesOnAFreshSession()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxSessions = 1 });
        await client.PutAsync("k", "1");
        var old = node.Writes.Last();

        // The cluster forgets every session (as expiry would): the next write (sequence 2) is refused.
        kv = new FakeKv();
        var item = await client.PutAsync("k", "2");

        var writes = node.Writes;
        Assert.Equal((old.ClientId, 2UL), (writes[1].ClientId, writes[1].Sequence));
        Assert.NotEqual(old.ClientId, writes[2].ClientId);
        Assert.Equal(1UL, writes[2].Sequence);
        Assert.Equal(1, kv.Applied);
        Assert.Equal("2", System.Text.Encoding.UTF8.GetString(item.Value));
    }

    [Fact]
    public async Task SessionExpiredAfterAnUnansweredSendIsAnUnknownOutcome()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxSessions = 1, AttemptTimeout = FakeNode.Short });
        await client.PutAsync("k", "1");

        // First send of sequence 2 is lost (it might have been applied); the retry finds the session gone.
        int sends = 0;
        node.Handler = (_, r) => Interlocked.Increment(ref sends) == 1 ? null : FakeNode.Status(ReplyStatus.SessionExpired);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.PutAsync("k", "2"));
        Assert.True(e.OutcomeUnknown);
        Assert.True(sends >= 2);
        Assert.True(sw.ElapsedMilliseconds < 2500, "thrown at once, not after retrying to the 5 s deadline");

        var lastUnresolved = node.Writes.Last();
        node.Handler = (_, r) => new FakeKv().Handle(r);
        await client.PutAsync("k", "3");
        Assert.NotEqual(lastUnresolved.ClientId, node.Writes.Last().ClientId);
    }

    [Fact]
    public async Task NotLeaderBeforeSessionExpiredIsAnUnknownOutcome()
    {
        // A leader that steps down answers NotLeader for a write it already appended, and that entry may still commit:
        // only the very first send of a sequence may move to a fresh session on SessionExpired.
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        var kv = new FakeKv();
        b.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(b, a) with { MaxSessions = 1 });
        await client.PutAsync("k", "1");

        b.Handler = (n, r) => n.RequestCount == 2 ? FakeNode.NotLeader(a.Address) : FakeNode.Status(ReplyStatus.SessionExpired);
        a.Handler = (_, _) => FakeNode.NotLeader(b.Address);
        var e = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.PutAsync("k", "2"));
        Assert.True(e.OutcomeUnknown);
        Assert.Equal(1, client.SessionsRenewed);
    }

    [Fact]
    public async Task AllNodesRefusingIsUnavailableForReadsButUnknownForWrites()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        a.Handler = b.Handler = (_, _) => FakeNode.NotLeader();
        await using var client = new RaftClient(FakeNode.Options(a, b) with { Deadline = TimeSpan.FromMilliseconds(400) });

        var read = await Assert.ThrowsAsync<RaftUnavailableException>(() => client.GetAsync("k"));
        Assert.Equal(RaftErrorIds.Unavailable, read.ErrorId);
        Assert.Equal([a.EndPoint, b.EndPoint], read.TriedEndpoints);
        Assert.Contains("not leader", read.Message);

        // The same answers to a write cannot prove it was never proposed (see above).
        var write = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.PutAsync("k", "v"));
        Assert.True(write.OutcomeUnknown);
        Assert.Equal([a.EndPoint, b.EndPoint], write.TriedEndpoints);
        Assert.Contains("not leader", write.Message);
    }

    [Fact]
    public async Task DefinitiveErrorsAdvanceTheLane()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxSessions = 1 });

        await Assert.ThrowsAsync<RaftKeyNotFoundException>(() => client.DeleteAsync("missing"));
        await Assert.ThrowsAsync<RaftVersionMismatchException>(() => client.CompareAndSetAsync("k", [1], 7));
        await client.PutAsync("k", "v");
        // (Distinct: a machine slow enough to time out an attempt resends the same sequence, which is fine.)
        Assert.Equal([1UL, 2UL, 3UL], node.Writes.Select(w => w.Sequence).Distinct());
        Assert.Single(node.Writes.Select(w => w.ClientId).Distinct());
        Assert.Equal(0, client.SessionsRenewed);
    }

    [Fact]
    public async Task LateRepliesAreIgnored()
    {
        await using var node = new FakeNode();
        int n = 0;
        node.Handler = (_, _) =>
        {
            int i = Interlocked.Increment(ref n);
            return FakeNode.Ok((ulong)i, new KvItem("k", [(byte)i], (ulong)i));
        };
        // The first reply arrives after the attempt timed out; the retry's answer must be the one returned.
        node.ReplyDelay = r => node.RequestCount == 1 ? TimeSpan.FromMilliseconds(250) : TimeSpan.Zero;
        await using var client = new RaftClient(FakeNode.Options(node) with { AttemptTimeout = FakeNode.Short });

        var item = await client.GetAsync("k");
        Assert.NotEqual(1UL, item.Version);
        await Task.Delay(300); // the late reply to the first attempt arrives now
        var next = await client.GetAsync("k");
        Assert.True(next.Version > item.Version);
    }
}
