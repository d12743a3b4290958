using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftPS.Client;
using RaftPS.Node.Tests.Durability;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;
using Xunit.Abstractions;

namespace RaftPS.Node.Tests.Security;

/// <summary>
/// One million hostile datagrams against a live keyed cluster, spread over all three nodes in parallel: random bytes,
/// plausible headers, and flipped / truncated / extended / spliced copies of real peer and client traffic, plus
/// forgeries by a client-secret holder, a wrong-secret holder and a keyless sender. Every datagram must end as a counted
/// drop; term, leader, log and data stay as they were; the cluster serves afterwards.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class MillionDatagramFuzzTests(ITestOutputHelper output)
{
    private const int Total = 1_000_000;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_keyed_cluster_counts_a_million_fuzzed_datagrams_as_drops_and_stays_unchanged()
    {
        var creds = TestKeys.Credentials("million");
        await using var cluster = InProcessCluster.Start(3, (_, o) => o with { Credentials = creds, ElectionTicks = 100, HeartbeatTicks = 10 });
        var leader = await cluster.WaitForLeaderAsync();
        var keyed = Clusters.WithKey(cluster.Cluster, creds.Client[0]);
        await using var client = new RaftClient(RaftClientOptions.For(keyed));
        for (int i = 0; i < 10; i++) await client.PutAsync($"m{i}", Encoding.UTF8.GetBytes($"v{i}"));
        var nodes = cluster.Servers.Values.Select(s => s!).ToArray();
        await Settle.AllAsync(nodes, leader.Status.CommitIndex, Deadline);
        var before = nodes.ToDictionary(n => n.NodeId, n => n.Status);

        var peerWire = new WireOptions { Keys = new Keyring(keyed.ClusterId, new ClusterCredentials { Peer = creds.Peer }) };
        var clientWire = KvTestClient.WireOptionsFor(keyed);
        var noKey = new WireOptions();
        var wrongKey = new WireOptions { Keys = TestKeys.All(keyed.ClusterId, "wrong") };
        var work = nodes.Select((node, i) =>
        {
            var t = before[node.NodeId].Term;
            var seeds = UdpFuzzTests.ClientSeeds(clientWire, keyed.ClusterId).Concat(UdpFuzzTests.RaftSeeds(peerWire, keyed, node, t)).ToList();
            var forged = UdpFuzzTests.RaftSeeds(noKey, keyed, node, t, verify: false)
                .Concat(UdpFuzzTests.RaftSeeds(wrongKey, keyed, node, t, verify: false))
                .Concat(UdpFuzzTests.RaftSeeds(clientWire, keyed, node, t, verify: false, sealWith: clientWire.Keys!.Current(CredentialRole.Client)))
                .Concat(UdpFuzzTests.ClientSeeds(noKey, keyed.ClusterId)).ToList();
            return (Node: node, Count: Total / 3 + (i < Total % 3 ? 1 : 0), Fuzzer: new DatagramFuzzer(9100 + i, seeds, keyed.ClusterId), Forged: forged);
        }).ToArray();
        var dropped0 = nodes.ToDictionary(n => n.NodeId, n => n.Counters.DroppedTotal);

        var sw = Stopwatch.StartNew();
        await Task.WhenAll(work.Select(w => Task.Run(() =>
            Flood(w.Node, w.Count, i => i % 10 == 9 ? w.Forged[i / 10 % w.Forged.Count] : w.Fuzzer.Next()))));
        foreach (var w in work)
            await Wait.UntilAsync(() => w.Node.Counters.DroppedTotal - dropped0[w.Node.NodeId] >= w.Count, Deadline,
                () => $"{w.Node.NodeId}: {w.Node.Counters.DroppedTotal - dropped0[w.Node.NodeId]} drops for {w.Count} datagrams ({w.Node.Counters})");
        output.WriteLine($"{Total} datagrams in {sw.Elapsed.TotalSeconds:0.0} s ({Total / sw.Elapsed.TotalSeconds:0} per s)");
        foreach (var n in nodes) output.WriteLine($"{n.NodeId}: {n.Counters}");

        foreach (var n in nodes)
        {
            Assert.False(n.Completion.IsCompleted, $"{n.NodeId} stopped: {n.Completion.Exception?.GetBaseException().Message}");
            Assert.Equal(before[n.NodeId].Term, n.Status.Term);
            Assert.Equal(before[n.NodeId].Leader, n.Status.Leader);
            Assert.Equal(before[n.NodeId].LastIndex, n.Status.LastIndex);
            Assert.Equal(before[n.NodeId].CommitIndex, n.Status.CommitIndex);
        }
        for (int i = 0; i < 10; i++) Assert.Equal($"v{i}", Encoding.UTF8.GetString((await client.GetAsync($"m{i}")).Value));
        await client.PutAsync("after", "ok"u8.ToArray());
    }

    /// <summary>Sends with a bounded number unread by the node, so the kernel drops none and each reaches the receive path.</summary>
    private static void Flood(RaftServer node, int count, Func<int, byte[]> next)
    {
        const int Window = 192;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.SendBufferSize = 4 << 20;
        long received0 = node.Counters.DatagramsReceived;
        var target = node.EndPoint;
        for (int i = 0; i < count; i++)
        {
            socket.SendTo(next(i), target);
            if (i % 32 != 31) continue;
            var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * (long)Deadline.TotalSeconds;
            var spin = new SpinWait();
            while (node.Counters.DatagramsReceived - received0 < i + 1 - Window)
            {
                Assert.True(Stopwatch.GetTimestamp() < deadline, $"{node.NodeId} stopped reading its socket after {i + 1} datagrams ({node.Counters})");
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
    }
}
