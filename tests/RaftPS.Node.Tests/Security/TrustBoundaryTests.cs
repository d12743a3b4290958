using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftPS.Client;
using RaftPS.Consensus;
using RaftPS.Node.Tests.Durability;
using RaftPS.Node.Tests.Integration;
using RaftPS.Node.Transport;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;
using Xunit.Abstractions;

namespace RaftPS.Node.Tests.Security;

/// <summary>
/// Live clusters under attack from someone holding a client's cluster file (client secret) or nothing at all: forged
/// peer messages of every dangerous kind, replays, wrong-role requests. Every node stays up with term, log and data
/// unchanged, every hostile datagram is a counted drop, and honest clients get clear errors or service.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class TrustBoundaryTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static NodeOptions Patient(NodeOptions o) => o with { ElectionTicks = 100, HeartbeatTicks = 10 };

    private static RaftClientOptions ClientOptions(InProcessCluster c, string? clientKey = null, string? adminKey = null) =>
        RaftClientOptions.For(c.Cluster) with { ClusterKey = clientKey, AdminKey = adminKey, Deadline = TimeSpan.FromSeconds(10) };

    /// <summary>The attack: sender = the leader's id, huge term and commit, sent to a follower's port.</summary>
    private static List<Message> HostileMessages(ClusterDefinition cluster, ulong leader, ulong target, ulong term, ulong last)
    {
        var conf = ConfState.Of(cluster.Members.Select(m => m.NodeId).ToArray());
        return
        [
            new() { Type = MessageType.Heartbeat, From = leader, To = target, Term = term + 1000, Commit = last + 1_000_000 },
            new() { Type = MessageType.Heartbeat, From = leader, To = target, Term = term, Commit = ulong.MaxValue },
            new() { Type = MessageType.Append, From = leader, To = target, Term = term + 1, LogTerm = term, Index = last, Commit = last + 1,
                Entries = [new Entry(term + 1, last + 1, EntryType.Normal, Encoding.UTF8.GetBytes("forged"))] },
            new() { Type = MessageType.Append, From = leader, To = target, Term = term + 1, LogTerm = term, Index = last, Commit = last + 1,
                Entries = [new Entry(term + 1, last + 1, EntryType.ConfChange, ConfStateCodec.Encode(ConfState.Of(leader)))] },
            new() { Type = MessageType.Append, From = leader, To = target, Term = term + 1, LogTerm = term, Index = last,
                Entries = [new Entry(term + 1, last + 1, EntryType.ConfChange, [1, 2, 3])] },
            new() { Type = MessageType.Vote, From = leader, To = target, Term = term + 50, LogTerm = term + 50, Index = last + 100 },
            new() { Type = MessageType.PreVote, From = leader, To = target, Term = term + 50, LogTerm = term + 50, Index = last + 100 },
            new() { Type = MessageType.TimeoutNow, From = leader, To = target, Term = term },
            new() { Type = MessageType.InstallSnapshot, From = leader, To = target, Term = term + 1,
                Snapshot = new Snapshot(new SnapshotMetadata(last + 100, term + 1, conf), new byte[500]) },
        ];
    }

    /// <summary>
    /// Frames each message as a Raft datagram from <c>m.From</c>. A client or admin key cannot seal Raft datagrams
    /// (<see cref="WireKey"/> refuses), so for those the attacker seals it as their own kind and relabels it Raft — a
    /// datagram under the holder's key claiming to be a peer message, which the node must refuse.
    /// </summary>
    private static int SendForged(IEnumerable<Message> messages, ClusterDefinition cluster, WireOptions wire, WireKey? key, IPEndPoint to, IPEndPoint? from = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(from ?? new IPEndPoint(IPAddress.Loopback, 0));
        int sent = 0;
        foreach (var m in messages)
        {
            var framer = new DatagramFramer(wire, cluster.ClusterId, m.From);
            using var w = new WireWriter();
            RaftCodec.Write(w, m);
            var kind = key is { Role: not CredentialRole.Peer } ? MessageKind.ClientRequest : MessageKind.Raft;
            framer.Frame(kind, w, key, (socket, to), static (s, d) =>
            {
                var copy = d.ToArray();
                copy[5] = (byte)MessageKind.Raft;
                s.socket.SendTo(copy, s.to);
            });
            sent++;
        }
        return sent;
    }

    [Fact]
    public async Task Forged_peer_messages_from_a_client_credential_holder_and_from_strangers_leave_every_node_up_and_serving()
    {
        var creds = TestKeys.Credentials("forge");
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o with { Credentials = creds }));
        var leader = await cluster.WaitForLeaderAsync();
        await using var client = new RaftClient(ClientOptions(cluster, creds.Client[0]));
        for (int i = 0; i < 10; i++) await client.PutAsync($"k{i}", Encoding.UTF8.GetBytes($"v{i}"));
        var nodes = cluster.Servers.Values.Select(s => s!).ToArray();
        await Settle.AllAsync(nodes, leader.Status.CommitIndex, Deadline);
        var before = nodes.ToDictionary(n => n.NodeId, n => n.Status);
        ulong leaderId = cluster.Cluster.Find(leader.NodeId)!.NodeId;

        // The attacker's options: the client secret from a data client's cluster file, a guessed peer secret, or nothing.
        var clientHolder = new WireOptions { Keys = TestKeys.ClientOnly(cluster.Cluster.ClusterId, "forge") };
        var adminHolder = new WireOptions { Keys = TestKeys.AdminOnly(cluster.Cluster.ClusterId, "forge") };
        var guessedPeer = new WireOptions { Keys = TestKeys.All(cluster.Cluster.ClusterId, "guess") };
        var nothing = new WireOptions();
        var sentTo = new Dictionary<string, long>();
        var drops0 = nodes.ToDictionary(n => n.NodeId, n => n.Counters.DroppedTotal);
        foreach (var target in nodes)
        {
            var t = target.Status;
            var messages = HostileMessages(cluster.Cluster, leaderId, cluster.Cluster.Find(target.NodeId)!.NodeId, t.Term, t.LastIndex);
            if (target == leader)
            {
                // Against the leader: claim to be a follower.
                var follower = cluster.Cluster.Find(nodes.First(n => n != leader).NodeId)!.NodeId;
                messages = messages.Select(m => m with { From = follower })
                    .Append(new Message { Type = MessageType.AppendResponse, From = follower, To = leaderId, Term = t.Term, Index = ulong.MaxValue - 5 }).ToList();
            }
            int n = 0;
            n += SendForged(messages, cluster.Cluster, clientHolder, clientHolder.Keys!.Current(CredentialRole.Client), target.EndPoint);
            n += SendForged(messages, cluster.Cluster, adminHolder, adminHolder.Keys!.Current(CredentialRole.Admin), target.EndPoint);
            n += SendForged(messages, cluster.Cluster, guessedPeer, guessedPeer.Keys!.Current(CredentialRole.Peer), target.EndPoint);
            n += SendForged(messages, cluster.Cluster, nothing, null, target.EndPoint);
            sentTo[target.NodeId] = n;
        }
        foreach (var node in nodes)
        {
            await Wait.UntilAsync(() => node.Counters.DroppedTotal - drops0[node.NodeId] >= sentTo[node.NodeId], Deadline,
                () => $"{node.NodeId}: {node.Counters.DroppedTotal - drops0[node.NodeId]} drops for {sentTo[node.NodeId]} forged datagrams ({node.Counters})");
            output.WriteLine($"{node.NodeId}: {sentTo[node.NodeId]} forged; {node.Counters}");
            Assert.True(node.Counters.Dropped(DropReason.BadAuth) > 0 && node.Counters.Dropped(DropReason.AuthMismatch) > 0, node.Counters.ToString());
        }
        await Task.Delay(300); // anything that slipped through would have reached the loop by now
        foreach (var n in nodes)
        {
            Assert.False(n.Completion.IsCompleted, $"{n.NodeId} stopped: {n.Completion.Exception?.GetBaseException().Message}");
            Assert.Equal(before[n.NodeId].Term, n.Status.Term);
            Assert.Equal(before[n.NodeId].Leader, n.Status.Leader);
            Assert.Equal(before[n.NodeId].LastIndex, n.Status.LastIndex);
            Assert.Equal(before[n.NodeId].CommitIndex, n.Status.CommitIndex);
        }
        for (int i = 0; i < 10; i++) Assert.Equal($"v{i}", Encoding.UTF8.GetString((await client.GetAsync($"k{i}")).Value));
        await client.PutAsync("after", "still serving"u8.ToArray());
        Assert.Equal("still serving", Encoding.UTF8.GetString((await client.GetAsync("after")).Value));
    }

    [Fact]
    public async Task Forged_heartbeat_to_a_keyless_loopback_cluster_is_refused_by_source_address()
    {
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o));
        var leader = await cluster.WaitForLeaderAsync();
        var follower = cluster.Servers.Values.Select(s => s!).First(s => s != leader);
        var f = follower.Status;
        long wrongSource0 = follower.Counters.Dropped(DropReason.WrongSource);
        var messages = HostileMessages(cluster.Cluster, cluster.Cluster.Find(leader.NodeId)!.NodeId, cluster.Cluster.Find(follower.NodeId)!.NodeId, f.Term, f.LastIndex);
        int sent = SendForged(messages, cluster.Cluster, new WireOptions(), null, follower.EndPoint);
        await Wait.UntilAsync(() => follower.Counters.Dropped(DropReason.WrongSource) - wrongSource0 >= sent, Deadline, () => follower.Counters.ToString());
        Assert.False(follower.Completion.IsCompleted);
        Assert.Equal(f.Term, follower.Status.Term);
        await using var client = new RaftClient(ClientOptions(cluster));
        await client.PutAsync("after", "ok"u8.ToArray());
    }

    [Fact]
    public async Task Wrong_role_and_wrong_key_get_clear_errors_and_the_admin_credential_works()
    {
        var creds = TestKeys.Credentials("roles");
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o with { Credentials = creds }));
        var leader = await cluster.WaitForLeaderAsync();
        var other = cluster.Servers.Values.Select(s => s!).First(s => s != leader);

        await using (var dataClient = new RaftClient(ClientOptions(cluster, creds.Client[0])))
        {
            await dataClient.PutAsync("k", "v"u8.ToArray());
            var forbidden = await Assert.ThrowsAsync<RaftAccessDeniedException>(() => dataClient.TransferLeadershipAsync(other.NodeId));
            Assert.False(forbidden.IsUnauthorized);
            Assert.Equal("RaftPS.Forbidden", forbidden.ErrorId);
            Assert.Contains("admin", forbidden.Message);
            await Assert.ThrowsAsync<RaftAccessDeniedException>(() => dataClient.SetFaultsAsync(leader.EndPoint, FaultSpec.None));
        }
        await using (var wrongKey = new RaftClient(ClientOptions(cluster, "a-wrong-client-secret-0123456789") with { Deadline = TimeSpan.FromSeconds(3) }))
        {
            var e = await Assert.ThrowsAsync<RaftAccessDeniedException>(() => wrongKey.GetAsync("k"));
            Assert.True(e.IsUnauthorized);
            Assert.Equal("RaftPS.Unauthorized", e.ErrorId);
        }
        await using (var plaintext = new RaftClient(ClientOptions(cluster) with { Deadline = TimeSpan.FromSeconds(3) }))
        {
            Assert.True((await Assert.ThrowsAsync<RaftAccessDeniedException>(() => plaintext.PutAsync("k", "x"u8.ToArray()))).IsUnauthorized);
        }
        await using (var admin = new RaftClient(ClientOptions(cluster, adminKey: creds.Admin[0])))
        {
            Assert.Equal("v", Encoding.UTF8.GetString((await admin.GetAsync("k")).Value)); // admin includes client
            await admin.TransferLeadershipAsync(other.NodeId);
            await Wait.UntilAsync(() => other.Status.Role == "Leader", Deadline, () => $"{other.NodeId} is {other.Status.Role}");
        }
        foreach (var n in cluster.Servers.Values) Assert.False(n!.Completion.IsCompleted);
        Assert.True(leader.Counters.Dropped(DropReason.Unauthenticated) + other.Counters.Dropped(DropReason.Unauthenticated) > 0);
    }

    [Fact]
    public async Task A_replayed_client_datagram_is_a_counted_drop_and_gets_no_second_answer()
    {
        var creds = TestKeys.Credentials("replay");
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o with { Credentials = creds }));
        var leader = await cluster.WaitForLeaderAsync();
        var wire = new ClientWire(new WireOptions { Keys = TestKeys.ClientOnly(cluster.Cluster.ClusterId, "replay") }, cluster.Cluster.ClusterId, 0xBEEF);
        var datagram = wire.FrameRequest(new ClientRequest { RequestId = 1, ClientId = 0xBEEF, Sequence = 1, Op = ClientOp.Put, Key = "r", Value = [1] }).Single();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveTimeout = 3000;
        long replays0 = leader.Counters.Dropped(DropReason.Replayed);
        socket.SendTo(datagram, leader.EndPoint);
        var buffer = new byte[65536];
        int n = socket.Receive(buffer);
        Assert.True(wire.TryParseReply(buffer.AsSpan(0, n), Environment.TickCount64, out var reply));
        Assert.Equal(ReplyStatus.Ok, reply.Status);
        for (int i = 0; i < 5; i++) socket.SendTo(datagram, leader.EndPoint);
        await Wait.UntilAsync(() => leader.Counters.Dropped(DropReason.Replayed) - replays0 == 5, Deadline, () => leader.Counters.ToString());
        socket.ReceiveTimeout = 300;
        Assert.Throws<SocketException>(() => socket.Receive(buffer));
    }

    [Fact]
    public async Task Rotating_every_secret_under_write_load_loses_no_acknowledged_write()
    {
        var oldCreds = TestKeys.Credentials("old");
        var newCreds = TestKeys.Credentials("new");
        ClusterCredentials Both(ClusterCredentials current, ClusterCredentials previous) => new()
        {
            Peer = [.. current.Peer, .. previous.Peer], Client = [.. current.Client, .. previous.Client], Admin = [.. current.Admin, .. previous.Admin],
        };
        await using var cluster = InProcessCluster.Start(3, (_, o) => Patient(o with { Credentials = oldCreds }));
        await cluster.WaitForLeaderAsync();
        var nodes = cluster.Servers.Values.Select(s => s!).ToArray();
        var acked = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();
        using var stop = new CancellationTokenSource();

        async Task WriteLoop(string clientKey, string prefix, CancellationToken ct)
        {
            await using var c = new RaftClient(ClientOptions(cluster, clientKey));
            for (int i = 0; !ct.IsCancellationRequested; i++)
            {
                string key = $"{prefix}/{i}", value = $"{prefix}-{i}";
                try
                {
                    await c.PutAsync(key, Encoding.UTF8.GetBytes(value), ct);
                    acked[key] = value;
                }
                catch (OperationCanceledException) { break; }
                catch (RaftTimeoutException) { } // outcome unknown: not counted as acknowledged
            }
        }

        using var oldStop = new CancellationTokenSource();
        var oldWriter = WriteLoop(oldCreds.Client[0], "old", oldStop.Token);
        await Task.Delay(300);
        // 1. Every node accepts the new secrets too (still sending with the old ones).
        foreach (var n in nodes) n.UpdateCredentials(Both(oldCreds, newCreds));
        await Task.Delay(300);
        // 2. Every node sends with the new secrets, still accepting the old ones; new clients use the new secret.
        foreach (var n in nodes) n.UpdateCredentials(Both(newCreds, oldCreds));
        var newWriter = WriteLoop(newCreds.Client[0], "new", stop.Token);
        await Task.Delay(300);
        // 3. Old clients are gone; the old secrets are retired.
        oldStop.Cancel();
        await oldWriter;
        foreach (var n in nodes) n.UpdateCredentials(newCreds);
        await Task.Delay(300);
        stop.Cancel();
        await newWriter;

        Assert.Contains(acked.Keys, k => k.StartsWith("old/"));
        Assert.Contains(acked.Keys, k => k.StartsWith("new/"));
        await using var reader = new RaftClient(ClientOptions(cluster, newCreds.Client[0]));
        foreach (var (key, value) in acked) Assert.Equal(value, Encoding.UTF8.GetString((await reader.GetAsync(key)).Value));
        output.WriteLine($"{acked.Count} acknowledged writes across the rotation, all readable");
        foreach (var n in nodes) Assert.False(n.Completion.IsCompleted);
        await using var retired = new RaftClient(ClientOptions(cluster, oldCreds.Client[0]) with { Deadline = TimeSpan.FromSeconds(3) });
        Assert.True((await Assert.ThrowsAsync<RaftAccessDeniedException>(() => retired.GetAsync("old/0"))).IsUnauthorized);
    }
}
