using System.Diagnostics;
using System.Net;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Client;

public sealed class RaftClientErrorTests
{
    public enum Op { Get, TryGet, Put, Delete, Cas, List }

    private static Task<object?> Run(RaftClient c, Op op) => op switch
    {
        Op.Get => Box(c.GetAsync("k")),
        Op.TryGet => Box(c.TryGetAsync("k")),
        Op.Put => Box(c.PutAsync("k", [1])),
        Op.Delete => Box(c.DeleteAsync("k")),
        Op.Cas => Box(c.CompareAndSetAsync("k", [1], 3)),
        _ => Box(c.ListAsync("k")),
    };

    private static async Task<object?> Box<T>(Task<T> t) => await t;

    public static TheoryData<Op, ReplyStatus, Type?, string?> StatusTable => new()
    {
        { Op.Get, ReplyStatus.KeyNotFound, typeof(RaftKeyNotFoundException), RaftErrorIds.KeyNotFound },
        { Op.TryGet, ReplyStatus.KeyNotFound, null, null },
        { Op.Delete, ReplyStatus.KeyNotFound, typeof(RaftKeyNotFoundException), RaftErrorIds.KeyNotFound },
        { Op.Cas, ReplyStatus.VersionMismatch, typeof(RaftVersionMismatchException), RaftErrorIds.VersionMismatch },
        { Op.Put, ReplyStatus.ValueTooLarge, typeof(RaftValueTooLargeException), RaftErrorIds.ValueTooLarge },
        { Op.Cas, ReplyStatus.ValueTooLarge, typeof(RaftValueTooLargeException), RaftErrorIds.ValueTooLarge },
        { Op.Put, ReplyStatus.BadRequest, typeof(RaftBadRequestException), RaftErrorIds.BadRequest },
        { Op.Get, ReplyStatus.BadRequest, typeof(RaftBadRequestException), RaftErrorIds.BadRequest },
        { Op.List, ReplyStatus.BadRequest, typeof(RaftBadRequestException), RaftErrorIds.BadRequest },
        { Op.Put, ReplyStatus.KeyNotFound, typeof(RaftKeyNotFoundException), RaftErrorIds.KeyNotFound },
    };

    [Theory]
    [MemberData(nameof(StatusTable))]
    public async Task EachStatusMapsToItsTypedError(Op op, ReplyStatus status, Type? expected, string? errorId)
    {
        await using var node = new FakeNode();
        node.Handler = (_, _) => FakeNode.Status(status, version: 42, error: "detail from node");
        await using var client = new RaftClient(FakeNode.Options(node));

        if (expected is null)
        {
            Assert.Null(await Run(client, op));
            return;
        }
        var e = await Assert.ThrowsAsync(expected, () => Run(client, op));
        var rce = Assert.IsAssignableFrom<RaftClientException>(e);
        Assert.Equal(errorId, rce.ErrorId);
        Assert.Equal(1, node.RequestCount); // definitive: not retried
        if (e is RaftVersionMismatchException vm)
        {
            Assert.Equal(42UL, vm.CurrentVersion);
            Assert.Equal(3UL, vm.ExpectedVersion);
        }
        if (status is ReplyStatus.BadRequest or ReplyStatus.ValueTooLarge) Assert.Contains("detail from node", e.Message);
    }

    [Fact]
    public async Task SuccessfulRepliesBecomeResults()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node));

        var put = await client.PutAsync("a/1", "x");
        Assert.Equal("a/1", put.Key);
        var cas = await client.CompareAndSetAsync("a/1", "y"u8.ToArray(), put.Version, "x"u8.ToArray());
        Assert.True(cas.Version > put.Version);
        await client.PutAsync("a/2", [2]);
        Assert.Equal(["a/1", "a/2"], (await client.ListAsync("a/")).Select(i => i.Key));
        Assert.Equal("y"u8.ToArray(), (await client.GetAsync("a/1")).Value);
        ulong deleted = await client.DeleteAsync("a/1");
        Assert.True(deleted > cas.Version);
        Assert.Null(await client.TryGetAsync("a/1"));
        var created = await client.CompareAndSetAsync("new", [9], expectedVersion: 0);
        Assert.Equal([9], created.Value);
    }

    [Fact]
    public async Task NothingAnsweringIsUnavailableForReads()
    {
        await using var a = new FakeNode("a");
        await using var b = new FakeNode("b");
        // A deadline long enough that both nodes get an attempt even on a loaded machine.
        await using var client = new RaftClient(FakeNode.Options(a, b) with { AttemptTimeout = FakeNode.Short, Deadline = TimeSpan.FromMilliseconds(1500) });

        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RaftUnavailableException>(() => client.GetAsync("k"));
        Assert.InRange(sw.ElapsedMilliseconds, 1400, 6000);
        Assert.Equal([a.EndPoint, b.EndPoint], e.TriedEndpoints);
        Assert.Contains(a.EndPoint.ToString(), e.Message);
        Assert.Contains(b.EndPoint.ToString(), e.Message);
        Assert.Contains("no answer", e.Message);
        Assert.True(a.RequestCount >= 1 && b.RequestCount >= 1);
    }

    [Fact]
    public async Task NothingAnsweringIsAnUnknownOutcomeForWrites()
    {
        await using var a = new FakeNode("a");
        await using var client = new RaftClient(FakeNode.Options(a) with { AttemptTimeout = FakeNode.Short, Deadline = TimeSpan.FromMilliseconds(300) });
        var e = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.PutAsync("k", "v"));
        Assert.True(e.OutcomeUnknown);
        Assert.Contains("may or may not", e.Message);
    }

    [Fact]
    public async Task UnreachablePortIsUnavailable()
    {
        // A port nobody listens on (bound then released): sends succeed or fail, never answered.
        int port;
        using (var probe = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            port = ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
        await using var client = new RaftClient(new RaftClientOptions
        {
            Endpoints = [new IPEndPoint(IPAddress.Loopback, port)],
            AttemptTimeout = TimeSpan.FromMilliseconds(50),
            Deadline = TimeSpan.FromMilliseconds(250),
        });
        await Assert.ThrowsAsync<RaftUnavailableException>(() => client.ListAsync());
    }

    [Fact]
    public async Task UnavailableRepliesAreRetriedUntilTheLeaderRecovers()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (n, r) => n.RequestCount <= 3 ? FakeNode.Status(ReplyStatus.Unavailable, error: "no quorum") : kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node));
        await client.PutAsync("k", "v");
        Assert.Equal(4, node.RequestCount);
        Assert.Single(node.Writes.Select(w => (w.ClientId, w.Sequence)).Distinct());
    }

    [Fact]
    public async Task UnavailableWriteAtTheDeadlineIsAnUnknownOutcome()
    {
        await using var node = new FakeNode();
        node.Handler = (_, _) => FakeNode.Status(ReplyStatus.Unavailable, error: "no quorum");
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromMilliseconds(200) });
        var e = await Assert.ThrowsAsync<RaftTimeoutException>(() => client.DeleteAsync("k"));
        Assert.True(e.OutcomeUnknown);
        Assert.Contains("no quorum", e.Message);
    }

    [Fact]
    public async Task CancellationStopsWaitingAndRetiresTheLane()
    {
        await using var node = new FakeNode(); // silent
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromSeconds(30), MaxSessions = 1 });

        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        var sw = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PutAsync("k", "v", cts.Token));
        Assert.InRange(sw.ElapsedMilliseconds, 100, 5000);
        Assert.Equal(1, client.SessionsRenewed); // the write was sent, so its (client, sequence) is never reused

        using var cts2 = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("k", cancellationToken: cts2.Token));

        var canceled = new CancellationToken(true);
        int before = node.RequestCount;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PutAsync("k", "v", canceled));
        Assert.Equal(before, node.RequestCount);
        Assert.Equal(1, client.SessionsRenewed); // nothing sent: the lane stays clean
    }

    [Fact]
    public async Task WaitingForALaneCanBeCanceled()
    {
        await using var node = new FakeNode(); // silent: the one lane stays busy
        await using var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromSeconds(30), MaxSessions = 1 });
        using var holder = new CancellationTokenSource();
        var busy = client.PutAsync("a", "1", holder.Token);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.PutAsync("b", "2", cts.Token));
        Assert.All(node.Writes, w => Assert.Equal("a", w.Key));
        holder.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => busy);
    }

    [Fact]
    public async Task DisposeFailsOperationsInFlight()
    {
        var node = new FakeNode();
        await using var _ = node;
        var client = new RaftClient(FakeNode.Options(node) with { Deadline = TimeSpan.FromSeconds(30) });
        var inflight = client.GetAsync("k");
        while (node.RequestCount == 0) await Task.Delay(5);
        await client.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => inflight);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.GetAsync("k"));
        await client.DisposeAsync(); // idempotent
    }

    public static TheoryData<string, Func<RaftClient, Task>, Type> BadArguments => new()
    {
        { "null key", c => c.GetAsync(null!), typeof(ArgumentNullException) },
        { "empty key get", c => c.GetAsync(""), typeof(ArgumentException) },
        { "empty key put", c => c.PutAsync("", [1]), typeof(ArgumentException) },
        { "empty key delete", c => c.DeleteAsync(""), typeof(ArgumentException) },
        { "unpaired surrogate", c => c.PutAsync("a\uD800b", [1]), typeof(ArgumentException) },
        { "null value", c => c.PutAsync("k", (byte[])null!), typeof(ArgumentNullException) },
        { "null string value", c => c.PutAsync("k", (string)null!), typeof(ArgumentNullException) },
        { "cas without expectation", c => c.CompareAndSetAsync("k", [1], null, null), typeof(ArgumentException) },
        { "cas absent key with value", c => c.CompareAndSetAsync("k", [1], 0, [2]), typeof(ArgumentException) },
        { "negative limit", c => c.ListAsync("", -1), typeof(ArgumentOutOfRangeException) },
        { "null pattern", c => c.ListAsync(null!), typeof(ArgumentNullException) },
        { "bad consistency", c => c.GetAsync("k", (ReadConsistency)9), typeof(ArgumentOutOfRangeException) },
        { "null status endpoint", c => c.StatusAsync(null!), typeof(ArgumentNullException) },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public async Task ArgumentsAreCheckedBeforeSending(string name, Func<RaftClient, Task> call, Type expected)
    {
        await using var node = new FakeNode();
        await using var client = new RaftClient(FakeNode.Options(node));
        var e = await Assert.ThrowsAnyAsync<ArgumentException>(() => call(client));
        Assert.True(e.GetType() == expected, $"{name}: got {e.GetType().Name}");
        Assert.Equal(0, node.RequestCount);
    }

    public static TheoryData<string, RaftClientOptions> BadOptions => new()
    {
        { "no endpoints", new RaftClientOptions() },
        { "port 0", new RaftClientOptions { Endpoints = [new IPEndPoint(IPAddress.Loopback, 0)] } },
        { "zero attempt timeout", Valid with { AttemptTimeout = TimeSpan.Zero } },
        { "negative deadline", Valid with { Deadline = TimeSpan.FromSeconds(-1) } },
        { "no sessions", Valid with { MaxSessions = 0 } },
        { "empty key", Valid with { ClusterKey = "" } },
        { "empty cluster", Valid with { ClusterName = "" } },
        { "backoff inverted", Valid with { MinBackoff = TimeSpan.FromSeconds(1), MaxBackoff = TimeSpan.FromMilliseconds(1) } },
        { "tiny datagram", Valid with { MaxDatagramSize = 100 } },
    };

    private static RaftClientOptions Valid => new() { Endpoints = [new IPEndPoint(IPAddress.Loopback, 7001)] };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void InvalidOptionsAreRejected(string name, RaftClientOptions options)
    {
        Assert.NotNull(name);
        Assert.ThrowsAny<ArgumentException>(() => new RaftClient(options));
    }

    [Fact]
    public async Task OversizedRequestIsValueTooLargeWithoutSending()
    {
        await using var node = new FakeNode();
        await using var client = new RaftClient(FakeNode.Options(node) with { MaxDatagramSize = 1024, MaxMessageSize = 4096 });
        await Assert.ThrowsAsync<RaftValueTooLargeException>(() => client.PutAsync("k", new byte[10_000]));
        Assert.Equal(0, node.RequestCount);
    }

    [Fact]
    public async Task LargeValuesTravelInSeveralDatagrams()
    {
        await using var node = new FakeNode();
        var kv = new FakeKv();
        node.Handler = (_, r) => kv.Handle(r);
        await using var client = new RaftClient(FakeNode.Options(node));
        var value = new byte[150_000];
        new Random(7).NextBytes(value);
        await client.PutAsync("big", value);
        // The reply carries the item back, chunked too.
        Assert.Equal(value, (await client.GetAsync("big")).Value);
        Assert.True(client.Counters.DatagramsSent >= 4);
    }
}
