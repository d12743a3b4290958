using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using RaftPS.Consensus;
using RaftPS.Node.Transport;
using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Tests.Security;

/// <summary>The building blocks of the trust boundary, one rule per test.</summary>
public class WireCryptoTests
{
    private const ulong Cluster = 0xC0FFEE;

    private static byte[] Frame(Keyring keys, MessageKind kind, WireKey? key, byte[] payload, ulong sender = 7)
    {
        var framer = new DatagramFramer(new WireOptions { Keys = keys }, Cluster, sender);
        using var w = new WireWriter();
        w.WriteRaw(payload);
        var list = new List<byte[]>();
        framer.Frame(kind, w, key, list, static (l, d) => l.Add(d.ToArray()));
        return list.Single();
    }

    [Fact]
    public void A_sealed_payload_is_encrypted_and_opens_only_under_the_same_key()
    {
        var keys = TestKeys.All(Cluster);
        var secret = "attack at dawn, attack at dawn"u8.ToArray();
        var d = Frame(keys, MessageKind.Raft, keys.Current(CredentialRole.Peer), secret);
        Assert.Equal(-1, d.AsSpan().IndexOf(secret.AsSpan(0, 12)));
        Assert.True(Datagram.TryParse(d.ToArray(), Cluster, keys, out var h, out var payload, out _));
        Assert.Equal(CredentialRole.Peer, h.Role);
        Assert.Equal(secret, payload.ToArray());
        Assert.False(Datagram.TryParse(d.ToArray(), Cluster, TestKeys.All(Cluster, "other"), out _, out _, out var reason));
        Assert.Equal(DropReason.BadAuth, reason);
        // Same secrets, another cluster: unrelated keys.
        Assert.False(Datagram.TryParse(d.ToArray(), Cluster, TestKeys.All(Cluster + 1), out _, out _, out _));
    }

    [Fact]
    public void Keys_of_each_role_and_direction_differ_and_a_client_key_cannot_make_a_peer_message()
    {
        var keys = TestKeys.All(Cluster);
        var ids = new[] { CredentialRole.Peer, CredentialRole.Client, CredentialRole.Admin }.Select(r => keys.Current(r)!.KeyId).ToArray();
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Throws<InvalidOperationException>(() => Frame(keys, MessageKind.Raft, keys.Current(CredentialRole.Client), [1]));
        Assert.Throws<InvalidOperationException>(() => Frame(keys, MessageKind.ClientRequest, keys.Current(CredentialRole.Peer), [1]));
        // A request relabelled as a reply (a reflected request) does not open: requests and replies use different keys.
        var request = Frame(keys, MessageKind.ClientRequest, keys.Current(CredentialRole.Client), [1, 2, 3]);
        request[5] = (byte)MessageKind.ClientReply;
        Assert.False(Datagram.TryParse(request, Cluster, keys, out _, out _, out _));
        // A request relabelled as a peer message does not open either.
        var again = Frame(keys, MessageKind.ClientRequest, keys.Current(CredentialRole.Client), [1, 2, 3]);
        again[5] = (byte)MessageKind.Raft;
        Assert.False(Datagram.TryParse(again, Cluster, keys, out _, out _, out _));
    }

    [Fact]
    public void A_peer_secret_reused_for_another_role_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new Keyring(Cluster, new ClusterCredentials { Peer = ["same-secret-0123456789"], Client = ["same-secret-0123456789"] }));
    }

    [Fact]
    public void Nonces_never_repeat_within_a_framer_or_across_framers()
    {
        var keys = TestKeys.All(Cluster);
        var seen = new HashSet<(ulong, uint)>();
        for (int f = 0; f < 20; f++)
        {
            var framer = new DatagramFramer(new WireOptions { Keys = keys }, Cluster, 1);
            for (int i = 0; i < 200; i++)
            {
                using var w = new WireWriter();
                w.WriteRaw([1]);
                var d = framer.FrameToArrays(MessageKind.Raft, w).Single();
                Assert.True(Datagram.TryParse(d, Cluster, keys, out var h, out _, out _));
                Assert.True(seen.Add((h.Epoch, h.Counter)), "nonce repeated");
            }
        }
    }

    [Fact]
    public void The_replay_window_accepts_each_counter_once_tolerates_reordering_and_rejects_what_is_too_old()
    {
        var w = new ReplayWindow();
        Assert.True(w.TryAccept(5));
        Assert.False(w.TryAccept(5));
        Assert.True(w.TryAccept(3));   // reordered, first time
        Assert.False(w.TryAccept(3));
        Assert.True(w.TryAccept(5000));
        Assert.False(w.TryAccept(5000 - ReplayWindow.Size)); // older than the window
        Assert.True(w.TryAccept(5000 - ReplayWindow.Size + 1));
        Assert.False(w.TryAccept(0));
    }

    [Fact]
    public void A_receiver_drops_a_replayed_sealed_datagram_and_counts_it()
    {
        var keys = TestKeys.All(Cluster);
        var rx = new DatagramReceiver(new WireOptions { Keys = keys }, Cluster, null, MessageKind.Raft);
        var d = Frame(keys, MessageKind.Raft, keys.Current(CredentialRole.Peer), [1, 2, 3]);
        Assert.True(rx.TryReceive(d.ToArray(), 0, out _));
        Assert.False(rx.TryReceive(d.ToArray(), 0, out _));
        Assert.Equal(1, rx.Counters.Dropped(DropReason.Replayed));
    }

    [Fact]
    public void During_a_rotation_both_secrets_are_accepted_and_the_first_is_used_to_send()
    {
        var old = new ClusterCredentials { Peer = ["old-peer-secret-0123456789"] };
        var both = new ClusterCredentials { Peer = ["new-peer-secret-0123456789", "old-peer-secret-0123456789"] };
        var oldRing = new Keyring(Cluster, old);
        var bothRing = new Keyring(Cluster, both);
        var fromOld = Frame(oldRing, MessageKind.Raft, oldRing.Current(CredentialRole.Peer), [1]);
        var fromNew = Frame(bothRing, MessageKind.Raft, bothRing.Current(CredentialRole.Peer), [2]);
        Assert.True(Datagram.TryParse(fromOld.ToArray(), Cluster, bothRing, out _, out _, out _));
        Assert.True(Datagram.TryParse(fromNew.ToArray(), Cluster, bothRing, out _, out _, out _));
        Assert.False(Datagram.TryParse(fromNew.ToArray(), Cluster, oldRing, out _, out _, out _));
        Assert.NotEqual(oldRing.Current(CredentialRole.Peer)!.KeyId, bothRing.Current(CredentialRole.Peer)!.KeyId);
    }

    [Theory]
    [InlineData(ClientOp.Get, CredentialRole.Client, ReplyStatus.Ok)]
    [InlineData(ClientOp.Put, CredentialRole.Admin, ReplyStatus.Ok)]
    [InlineData(ClientOp.TransferLeadership, CredentialRole.Client, ReplyStatus.Forbidden)]
    [InlineData(ClientOp.SetFaults, CredentialRole.Client, ReplyStatus.Forbidden)]
    [InlineData(ClientOp.SetFaults, CredentialRole.Admin, ReplyStatus.Ok)]
    [InlineData(ClientOp.Get, CredentialRole.None, ReplyStatus.Unauthorized)]
    [InlineData(ClientOp.TransferLeadership, CredentialRole.None, ReplyStatus.Unauthorized)]
    public void Operations_need_the_role_that_may_do_them(ClientOp op, CredentialRole role, ReplyStatus expected)
    {
        Assert.Equal(expected, ClientAuthorization.Check(op, role, TestKeys.All(Cluster)).Status);
    }

    [Fact]
    public void A_keyless_node_serves_everything_and_a_node_without_an_admin_key_refuses_admin_operations()
    {
        Assert.Equal(ReplyStatus.Ok, ClientAuthorization.Check(ClientOp.SetFaults, CredentialRole.None, Keyring.Empty).Status);
        var peerOnly = new Keyring(Cluster, new ClusterCredentials { Peer = ["peer-only-secret-0123456789"] });
        Assert.Equal(ReplyStatus.Ok, ClientAuthorization.Check(ClientOp.Put, CredentialRole.None, peerOnly).Status);
        Assert.Equal(ReplyStatus.Forbidden, ClientAuthorization.Check(ClientOp.TransferLeadership, CredentialRole.None, peerOnly).Status);
    }

    [Fact]
    public void A_node_refuses_a_non_loopback_address_without_a_peer_key_unless_insecure()
    {
        var log = NullLogger.Instance;
        Assert.Throws<InsecureConfigurationException>(() => NodeSecurity.CheckBind(IPAddress.Parse("10.1.2.3"), Keyring.Empty, insecure: false, log));
        Assert.Throws<InsecureConfigurationException>(() => NodeSecurity.CheckBind(IPAddress.Any, TestKeys.ClientOnly(Cluster), insecure: false, log));
        NodeSecurity.CheckBind(IPAddress.Loopback, Keyring.Empty, insecure: false, log);
        NodeSecurity.CheckBind(IPAddress.Parse("10.1.2.3"), Keyring.Empty, insecure: true, log);
        NodeSecurity.CheckBind(IPAddress.Parse("10.1.2.3"), TestKeys.All(Cluster), insecure: false, log);
    }

    [Fact]
    public void Key_files_hold_current_then_previous_secrets_and_refuse_short_ones()
    {
        var dir = Directory.CreateTempSubdirectory("raftps-keys-").FullName;
        try
        {
            var good = Path.Combine(dir, "good.key");
            File.WriteAllText(good, "# rotated 2026-12-01\nnew-secret-0123456789\n\nold-secret-0123456789\n");
            Assert.Equal(["new-secret-0123456789", "old-secret-0123456789"], ClusterCredentials.LoadKeyFile(good));
            var weak = Path.Combine(dir, "weak.key");
            File.WriteAllText(weak, "hunter2\n");
            Assert.Throws<ClusterDefinitionException>(() => ClusterCredentials.LoadKeyFile(weak));
            Assert.True(ClusterCredentials.GenerateSecret().Length >= 40);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    public static TheoryData<string, Message> HostilePeerMessages()
    {
        var conf = ConfState.Of(1, 2, 3);
        var data = new TheoryData<string, Message>
        {
            { "gap in entries", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 4, Index = 10,
                Entries = [new Entry(5, 12, EntryType.Normal, [])] } },
            { "entry term above message term", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, Index = 10,
                Entries = [new Entry(9, 11, EntryType.Normal, [])] } },
            { "decreasing entry terms", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 5, Index = 10,
                Entries = [new Entry(4, 11, EntryType.Normal, [])] } },
            { "undecodable configuration entry", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 5, Index = 10,
                Entries = [new Entry(5, 11, EntryType.ConfChange, [1, 2, 3])] } },
            { "configuration without voters", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 5, Index = 10,
                Entries = [new Entry(5, 11, EntryType.ConfChange, ConfStateCodec.Encode(ConfState.Empty))] } },
            { "index overflow", new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 5, Index = ulong.MaxValue,
                Entries = [new Entry(5, 0, EntryType.Normal, [])] } },
            { "snapshot term above message term", new Message { Type = MessageType.InstallSnapshot, From = 2, To = 1, Term = 5,
                Snapshot = new Snapshot(new SnapshotMetadata(100, 9, conf), []) } },
            { "snapshot with empty configuration", new Message { Type = MessageType.InstallSnapshot, From = 2, To = 1, Term = 5,
                Snapshot = new Snapshot(new SnapshotMetadata(100, 5, ConfState.Empty), []) } },
            { "install without snapshot", new Message { Type = MessageType.InstallSnapshot, From = 2, To = 1, Term = 5 } },
            { "entries on a heartbeat", new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = 5, Entries = [new Entry(5, 1, EntryType.Normal, [])] } },
            { "term 0", new Message { Type = MessageType.Heartbeat, From = 2, To = 1 } },
            { "local type", new Message { Type = MessageType.Hup, From = 2, To = 1, Term = 5 } },
            { "from self", new Message { Type = MessageType.Heartbeat, From = 1, To = 1, Term = 5 } },
            { "oversized context", new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = 5, Context = new byte[1000] } },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(HostilePeerMessages))]
    public void Impossible_peer_messages_never_reach_the_core(string name, Message m)
    {
        Assert.True(PeerMessageValidator.Validate(m, self: 1) is not null, name);
    }

    [Fact]
    public void Well_formed_peer_messages_pass_and_an_acknowledgement_beyond_our_log_does_not()
    {
        var append = new Message { Type = MessageType.Append, From = 2, To = 1, Term = 5, LogTerm = 4, Index = 10, Commit = 10,
            Entries = [new Entry(4, 11, EntryType.Normal, [1]), new Entry(5, 12, EntryType.ConfChange, ConfStateCodec.Encode(ConfState.Of(1, 2, 3)))] };
        Assert.Null(PeerMessageValidator.Validate(append, 1));
        Assert.Null(PeerMessageValidator.Validate(new Message { Type = MessageType.Heartbeat, From = 2, To = 1, Term = 5, Commit = 1_000_000 }, 1));
        var ack = new Message { Type = MessageType.AppendResponse, From = 2, To = 1, Term = 5, Index = 50 };
        Assert.True(PeerMessageValidator.FitsLocalLog(ack, lastIndex: 50));
        Assert.False(PeerMessageValidator.FitsLocalLog(ack, lastIndex: 49));
    }
}
