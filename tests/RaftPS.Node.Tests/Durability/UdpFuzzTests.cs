using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftPS.Consensus;
using RaftPS.Node.Tests.Integration;
using RaftPS.Node.Transport;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;
using Xunit.Abstractions;

namespace RaftPS.Node.Tests.Durability;

/// <summary>
/// Floods live nodes' UDP ports with garbage and with mutated copies of real datagrams. With a cluster key nothing may
/// get through: term, leader, log and data stay exactly as they were and every datagram shows up as a counted drop.
/// Without a key, mutated client requests that still decode may legitimately run; then only liveness is checked.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class UdpFuzzTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private const string Secret = "durability-fuzz-secret";

    /// <summary>Longer election timeouts (0.5-1 s): the flood competes for two CPUs with the nodes' own traffic.</summary>
    private static NodeOptions Patient(NodeOptions o) => o with { ElectionTicks = 100, HeartbeatTicks = 10 };

    [Fact]
    public async Task Keyed_cluster_survives_120k_fuzzed_datagrams_with_term_log_and_data_unchanged()
    {
        // Nodes hold peer, client and admin secrets; the data client only the client secret (as the cluster file's key).
        var creds = Security.TestKeys.Credentials(Secret);
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o with { Credentials = creds }));
        var keyed = Clusters.WithKey(cluster.Cluster, creds.Client[0]);
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(keyed);
        var written = new Dictionary<string, (string Value, ulong Version)>();
        for (int i = 0; i < 20; i++)
        {
            string key = $"fuzz/k{i}", value = $"value-{i}";
            var put = Replies.Require(client.Put(key, value, Deadline), "put " + key);
            Assert.Equal(ReplyStatus.Ok, put.Status);
            written[key] = (value, put.Version);
        }
        var nodes = cluster.Servers.Values.Select(s => s!).ToArray();
        await Settle.AllAsync(nodes, written.Values.Max(w => w.Version), Deadline);
        var before = nodes.ToDictionary(n => n.NodeId, n => n.Status);
        var follower = nodes.First(n => n != leader);

        // Seeds: real datagrams under the real key, each checked to be accepted as-is before being mutated.
        var wire = new WireOptions { Keys = new Keyring(keyed.ClusterId, new ClusterCredentials { Peer = creds.Peer }) };
        var clientSeeds = ClientSeeds(KvTestClient.WireOptionsFor(keyed), keyed.ClusterId);
        var leaderSeeds = clientSeeds.Concat(RaftSeeds(wire, keyed, leader, before[leader.NodeId].Term)).ToList();
        var followerSeeds = clientSeeds.Concat(RaftSeeds(wire, keyed, follower, before[follower.NodeId].Term)).ToList();
        // An attacker without the key: well-formed but untagged, or tagged with another key.
        var noKey = new WireOptions();
        var wrongKey = new WireOptions { Keys = Security.TestKeys.All(keyed.ClusterId, "not-the-secret") };
        var clientHolder = KvTestClient.WireOptionsFor(keyed);
        var forged = RaftSeeds(noKey, keyed, leader, before[leader.NodeId].Term, verify: false)
            .Concat(RaftSeeds(wrongKey, keyed, leader, before[leader.NodeId].Term, verify: false))
            .Concat(RaftSeeds(clientHolder, keyed, leader, before[leader.NodeId].Term, verify: false, sealWith: clientHolder.Keys!.Current(CredentialRole.Client)))
            .Concat(ClientSeeds(noKey, keyed.ClusterId)).ToList();

        var targets = new[] { (Node: leader, Count: 100_000, Seeds: leaderSeeds, Seed: 7001), (Node: follower, Count: 20_000, Seeds: followerSeeds, Seed: 7002) };
        foreach (var (node, count, seeds, seed) in targets)
        {
            var drops0 = Drops(node.Counters);
            long dropped0 = node.Counters.DroppedTotal;
            var fuzzer = new DatagramFuzzer(seed, seeds, keyed.ClusterId);
            int sent = Flood(node, count, i => i % 10 == 9 ? forged[i / 10 % forged.Count] : fuzzer.Next());
            // Every fuzzed datagram must end as a counted drop: none authenticates.
            await Wait.UntilAsync(() => node.Counters.DroppedTotal - dropped0 >= sent, Deadline,
                () => $"{node.NodeId} counted {node.Counters.DroppedTotal - dropped0} drops for {sent} fuzzed datagrams ({node.Counters})");
            var delta = Delta(drops0, Drops(node.Counters));
            output.WriteLine($"{node.NodeId}: {sent} fuzzed datagrams; drops " + string.Join(", ", delta.Where(kv => kv.Value != 0).Select(kv => $"{kv.Key}={kv.Value}")));
            foreach (var reason in new[] { DropReason.BadAuth, DropReason.AuthMismatch, DropReason.BadMagic, DropReason.Malformed })
                Assert.True(delta.GetValueOrDefault(reason) > 0, $"{node.NodeId}: no {reason} drops ({node.Counters})");
        }

        foreach (var n in nodes)
        {
            Assert.False(n.Completion.IsCompleted, $"{n.NodeId} stopped: {n.Completion.Exception?.GetBaseException().Message}");
            var s = n.Status;
            Assert.Equal(before[n.NodeId].Term, s.Term);
            Assert.Equal(before[n.NodeId].Leader, s.Leader);
            Assert.Equal(before[n.NodeId].LastIndex, s.LastIndex);
            Assert.Equal(before[n.NodeId].CommitIndex, s.CommitIndex);
        }
        foreach (var (key, (value, version)) in written)
        {
            var get = Replies.Require(client.Get(key, Deadline), "get " + key);
            Assert.Equal(value, Replies.ValueOf(get, key));
            Assert.Equal(version, get.Version);
        }
        AssertServing(client);
    }

    [Fact]
    public async Task Unkeyed_cluster_stays_live_under_random_and_mutated_client_datagrams()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o));
        var leader = await cluster.WaitForLeaderAsync();
        using var client = new KvTestClient(cluster.Cluster);
        Assert.Equal(ReplyStatus.Ok, Replies.Require(client.Put("seed", "1", Deadline), "put").Status);
        var seeds = ClientSeeds(new WireOptions(), cluster.Cluster.ClusterId);
        var nodes = cluster.Servers.Values.Select(s => s!).ToArray();
        int seed = 8000;
        foreach (var node in new[] { leader, nodes.First(n => n != leader) })
        {
            long dropped0 = node.Counters.DroppedTotal;
            var fuzzer = new DatagramFuzzer(++seed, seeds, cluster.Cluster.ClusterId);
            int sent = Flood(node, 15_000, _ => fuzzer.Next());
            output.WriteLine($"{node.NodeId}: {sent} fuzzed datagrams; {node.Counters}");
            Assert.True(node.Counters.DroppedTotal - dropped0 > sent / 2, $"{node.NodeId}: {node.Counters}");
        }
        // Anything may have been executed, but every node is up and the cluster still serves.
        foreach (var n in nodes) Assert.False(n.Completion.IsCompleted, $"{n.NodeId} stopped: {n.Completion.Exception?.GetBaseException().Message}");
        await cluster.WaitForLeaderAsync();
        AssertServing(client);
        await Settle.AllAsync(nodes, 0, Deadline); // and replication still converges on every node
        foreach (var n in nodes) Assert.False(n.Completion.IsCompleted, $"{n.NodeId} stopped: {n.Completion.Exception?.GetBaseException().Message}");
    }

    private static void AssertServing(KvTestClient client)
    {
        string value = "after-fuzz-" + Guid.NewGuid().ToString("N");
        var put = Replies.Require(client.Put("fuzz/after", value, Deadline), "put after the fuzz");
        Assert.Equal(ReplyStatus.Ok, put.Status);
        var get = Replies.Require(client.Get("fuzz/after", Deadline), "linearizable get after the fuzz");
        Assert.Equal(value, Replies.ValueOf(get, "fuzz/after"));
    }

    /// <summary>
    /// Sends <paramref name="count"/> datagrams to one node, pausing whenever more than a small window is still unread
    /// so that the kernel drops none and each one reaches the node's receive path. Fails if the node stops reading.
    /// </summary>
    private static int Flood(RaftServer node, int count, Func<int, byte[]> next)
    {
        const int Window = 256;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.SendBufferSize = 4 << 20;
        long received0 = node.Counters.DatagramsReceived;
        var target = node.EndPoint;
        for (int i = 0; i < count; i++)
        {
            socket.SendTo(next(i), target);
            if (i % 64 != 63) continue;
            var deadline = DateTime.UtcNow + Deadline;
            while (node.Counters.DatagramsReceived - received0 < i + 1 - Window)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{node.NodeId} stopped reading its socket after {i + 1} datagrams ({node.Counters})");
                Thread.Sleep(1);
            }
        }
        return count;
    }

    private static Dictionary<DropReason, long> Drops(WireCounters c) => Enum.GetValues<DropReason>().ToDictionary(r => r, c.Dropped);

    private static Dictionary<DropReason, long> Delta(Dictionary<DropReason, long> a, Dictionary<DropReason, long> b) =>
        b.ToDictionary(kv => kv.Key, kv => kv.Value - a[kv.Key]);

    // ------------------------------------------------------------------ seed datagrams

    /// <summary>Real client requests of every kind, one of them large enough to be chunked.</summary>
    internal static List<byte[]> ClientSeeds(WireOptions wire, ulong clusterId)
    {
        var w = new ClientWire(wire, clusterId, 0xC11E47);
        var requests = new ClientRequest[]
        {
            new() { RequestId = 1, ClientId = 0xC11E47, Sequence = 1, Op = ClientOp.Put, Key = "fuzz/k1", Value = "fuzzed"u8.ToArray() },
            new() { RequestId = 2, ClientId = 0xC11E47, Sequence = 2, Op = ClientOp.Put, Key = "fuzz/big", Value = new byte[90_000] },
            new() { RequestId = 3, Op = ClientOp.Get, Key = "fuzz/k2" },
            new() { RequestId = 4, Op = ClientOp.Get, Key = "fuzz/k3", Consistency = ReadConsistency.Stale },
            new() { RequestId = 5, ClientId = 0xC11E47, Sequence = 3, Op = ClientOp.Delete, Key = "fuzz/k4" },
            new() { RequestId = 6, ClientId = 0xC11E47, Sequence = 4, Op = ClientOp.CompareAndSet, Key = "fuzz/k5", Value = [1, 2], ExpectedVersion = 3, ExpectedValue = [9] },
            new() { RequestId = 7, Op = ClientOp.List, Key = "fuzz/*", Limit = 10 },
            new() { RequestId = 8, Op = ClientOp.Status },
        };
        return requests.SelectMany(r => w.FrameRequest(r)).ToList();
    }

    /// <summary>
    /// Raft messages a peer could send <paramref name="to"/> (the dangerous kinds: higher terms, appends, snapshots,
    /// TimeoutNow), framed as that peer with the node's codec. With <paramref name="verify"/>, each is checked to be
    /// accepted and decoded by a receiver holding the cluster key, so the mutations start from real traffic.
    /// </summary>
    internal static List<byte[]> RaftSeeds(WireOptions wire, ClusterDefinition cluster, RaftServer to, ulong term, bool verify = true, WireKey? sealWith = null)
    {
        ulong target = cluster.Find(to.NodeId)!.NodeId;
        ulong last = to.Status.LastIndex;
        var datagrams = new List<byte[]>();
        foreach (var peer in cluster.Members.Where(m => m.NodeId != target))
        {
            ulong from = peer.NodeId;
            var data = Encoding.UTF8.GetBytes("forged entry payload");
            var messages = new Message[]
            {
                new() { Type = MessageType.Append, From = from, To = target, Term = term + 1, LogTerm = term, Index = last, Commit = last + 1,
                    Entries = [new Entry(term + 1, last + 1, EntryType.Normal, data)] },
                new() { Type = MessageType.Append, From = from, To = target, Term = term + 2, LogTerm = term, Index = last,
                    Entries = Enumerable.Range(1, 40).Select(i => new Entry(term + 2, last + (ulong)i, EntryType.Normal, new byte[2000])).ToArray() },
                new() { Type = MessageType.Heartbeat, From = from, To = target, Term = term, Commit = last + 100, Context = [1, 2, 3, 4, 5, 6, 7, 8] },
                new() { Type = MessageType.PreVote, From = from, To = target, Term = term + 1, LogTerm = term + 1, Index = last + 10 },
                new() { Type = MessageType.Vote, From = from, To = target, Term = term + 5, LogTerm = term + 5, Index = last + 10 },
                new() { Type = MessageType.VoteResponse, From = from, To = target, Term = term },
                new() { Type = MessageType.AppendResponse, From = from, To = target, Term = term, Index = last + 50 },
                new() { Type = MessageType.HeartbeatResponse, From = from, To = target, Term = term, Context = [8, 7, 6, 5, 4, 3, 2, 1] },
                new() { Type = MessageType.TimeoutNow, From = from, To = target, Term = term },
                new() { Type = MessageType.InstallSnapshot, From = from, To = target, Term = term + 1,
                    Snapshot = new Snapshot(new SnapshotMetadata(last + 100, term + 1, ConfState.Of(cluster.Members.Select(m => m.NodeId).ToArray())), new byte[3000]) },
            };
            var framer = new DatagramFramer(wire, cluster.ClusterId, from);
            foreach (var m in messages)
            {
                var w = WireWriter.Rent();
                try
                {
                    RaftCodec.Write(w, m);
                    var framed = new List<byte[]>();
                    // A client key cannot seal Raft datagrams: its holder seals a request and relabels it Raft.
                    var kind = sealWith is { Role: not CredentialRole.Peer } ? MessageKind.ClientRequest : MessageKind.Raft;
                    framer.Frame(kind, w, sealWith ?? framer.DefaultKey(MessageKind.Raft), framed, static (l, d) =>
                    {
                        var copy = d.ToArray();
                        copy[5] = (byte)MessageKind.Raft;
                        l.Add(copy);
                    });
                    if (verify) VerifyAccepted(wire, cluster, framed, m);
                    datagrams.AddRange(framed);
                }
                finally
                {
                    WireWriter.Return(w);
                }
            }
        }
        return datagrams;
    }

    private static void VerifyAccepted(WireOptions wire, ClusterDefinition cluster, List<byte[]> framed, Message expected)
    {
        var receiver = new DatagramReceiver(wire, cluster.ClusterId, null, MessageKind.Raft);
        Message? decoded = null;
        foreach (var d in framed)
        {
            // A copy: the receiver opens datagrams in place, and the sealed original is what the flood mutates.
            if (receiver.TryReceive(d.ToArray(), Environment.TickCount64, out var message))
                Assert.True(RaftCodec.TryRead(message.Payload, out decoded), "seed does not decode");
        }
        Assert.True(decoded is not null, $"seed {expected} is not accepted by a keyed receiver: {receiver.Counters}");
        Assert.Equal(expected.Type, decoded!.Type);
        Assert.Equal(expected.Term, decoded.Term);
    }
}

/// <summary>
/// Seeded generator of hostile datagrams: random bytes (some behind a plausible header), and copies of seed datagrams
/// that are flipped, truncated, extended, overwritten, given edge-value header fields or spliced. A mutated copy always
/// differs from its seed.
/// </summary>
internal sealed class DatagramFuzzer(int seed, IReadOnlyList<byte[]> seeds, ulong clusterId)
{
    private readonly Random _r = new(seed);
    // A splice or a field overwrite can rebuild another seed byte for byte: that would be real traffic, not fuzz.
    private readonly HashSet<byte[]> _seedSet = new(seeds, ByteArrayComparer.Instance);

    public byte[] Next() => _r.Next(10) switch
    {
        0 => RandomBytes(),
        1 => PlausibleHeader(),
        _ => Mutate(seeds[_r.Next(seeds.Count)]),
    };

    private byte[] RandomBytes()
    {
        var b = new byte[_r.Next(0, 1500)];
        _r.NextBytes(b);
        return b;
    }

    /// <summary>Magic, version and cluster id right, the rest random: gets past the cheap checks.</summary>
    private byte[] PlausibleHeader()
    {
        int payload = _r.Next(0, 600);
        bool tagged = _r.Next(2) == 0;
        var b = new byte[Datagram.HeaderSize + payload + (tagged ? Datagram.TagSize : 0) + (_r.Next(4) == 0 ? _r.Next(-3, 4) : 0)];
        _r.NextBytes(b);
        if (b.Length < Datagram.HeaderSize) return b;
        BinaryPrimitives.WriteUInt32LittleEndian(b, Datagram.Magic);
        b[4] = Datagram.Version;
        b[5] = (byte)_r.Next(1, 4);
        b[6] = tagged ? (byte)DatagramFlags.Sealed : (byte)0;
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(7), clusterId);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(31), (ushort)_r.Next(0, 3));
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(33), (ushort)_r.Next(0, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(35), (uint)payload);
        return b;
    }

    private byte[] Mutate(byte[] original)
    {
        byte[] m;
        switch (_r.Next(6))
        {
            case 0: // flip a few bytes
                m = (byte[])original.Clone();
                for (int k = _r.Next(1, 5); k > 0; k--) m[_r.Next(m.Length)] ^= (byte)_r.Next(1, 256);
                break;
            case 1: // truncate
                m = original[.._r.Next(0, original.Length)];
                break;
            case 2: // extend
                m = new byte[original.Length + _r.Next(1, 65)];
                original.CopyTo(m, 0);
                _r.NextBytes(m.AsSpan(original.Length));
                break;
            case 3: // overwrite a run
                m = (byte[])original.Clone();
                int start = _r.Next(m.Length);
                _r.NextBytes(m.AsSpan(start, Math.Min(m.Length - start, _r.Next(1, 17))));
                break;
            case 4: // edge values in a header field (kind, flags, sender, message id, chunk index/count, length)
                m = (byte[])original.Clone();
                int[] fields = [5, 6, 15, 23, 31, 33, 35];
                int at = fields[_r.Next(fields.Length)];
                ulong value = _r.Next(4) switch { 0 => 0, 1 => ulong.MaxValue, 2 => 1, _ => (ulong)_r.NextInt64() };
                int width = at switch { 5 or 6 => 1, 31 or 33 => 2, 35 => 4, _ => 8 };
                for (int i = 0; i < width && at + i < m.Length; i++) m[at + i] = (byte)(value >> (8 * i));
                break;
            default: // splice the start of one datagram onto the end of another
                var other = seeds[_r.Next(seeds.Count)];
                int cut = _r.Next(original.Length + 1), from = _r.Next(other.Length + 1);
                m = [.. original.AsSpan(0, cut), .. other.AsSpan(from)];
                break;
        }
        if (m.Length > WireOptions.MaxUdpPayload) m = m[..WireOptions.MaxUdpPayload]; // what one IPv4 datagram can carry
        if (m.Length == 0) return m;
        while (_seedSet.Contains(m)) m[_r.Next(m.Length)] ^= (byte)_r.Next(1, 256);
        return m;
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var h = new HashCode();
            h.AddBytes(obj);
            return h.ToHashCode();
        }
    }
}
