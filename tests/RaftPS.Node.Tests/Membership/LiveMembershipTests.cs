using System.Text;
using Microsoft.Extensions.Logging;
using RaftPS.Client;
using RaftPS.Node.Tests.Durability;
using RaftPS.Node.Tests.Integration;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Membership;

/// <summary>Live membership on in-process clusters over real UDP: bootstrap from the log, join, add, promote, remove.</summary>
[Collection(DurabilityCollection.Name)]
public class LiveMembershipTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private static RaftClient ClientFor(InProcessCluster cluster) =>
        new(RaftClientOptions.For(cluster.Cluster) with { Deadline = TimeSpan.FromSeconds(20) });

    private static (NodeOptions Options, ClusterMember Member) Joiner(InProcessCluster cluster, string id)
    {
        var port = FreePorts.Udp(1)[0];
        var member = new ClusterMember(id, "127.0.0.1", port);
        return (new NodeOptions
        {
            NodeId = id, DataDirectory = Path.Combine(cluster.Root, id), Join = true, Listen = member, ClusterName = cluster.Cluster.ClusterName,
        }, member);
    }

    [Fact]
    public async Task An_edited_cluster_file_never_changes_who_votes()
    {
        await using var cluster = InProcessCluster.Start(3);
        await cluster.WaitForLeaderAsync();
        await using var client = ClientFor(cluster);
        await client.PutAsync("before", "1");

        // The operator "adds" n4 and n5 by editing the file and restarting n1 with it.
        var ports = FreePorts.Udp(2);
        var edited = new ClusterDefinition(cluster.Cluster.ClusterName, cluster.Cluster.Members
            .Append(new ClusterMember("n4", "127.0.0.1", ports[0])).Append(new ClusterMember("n5", "127.0.0.1", ports[1])));
        await cluster.StopNodeAsync("n1");
        var logs = new CapturingLoggerFactory();
        var n1 = RaftServer.Start(new NodeOptions { NodeId = "n1", Cluster = edited, DataDirectory = Path.Combine(cluster.Root, "n1"), LoggerFactory = logs });
        cluster.Servers["n1"] = n1;

        Assert.Contains(logs.MessagesAtLeast(LogLevel.Warning), m => m.Contains("disagrees") && m.Contains("n4") && m.Contains("n5"));
        await Wait.UntilAsync(() => n1.Status.Members.Count == 3, Long, () => $"n1 members: {string.Join(",", n1.Status.Members.Select(m => m.Id))}");
        Assert.DoesNotContain(n1.Status.Members, m => m.Id is "n4" or "n5");
        await client.PutAsync("after", "2");
        var members = await client.MembersAsync();
        Assert.Equal(["n1", "n2", "n3"], members.Members.Select(m => m.Id).Order().ToArray());
        Assert.All(members.Members, m => Assert.Equal(MemberRoles.Voter, m.Role));
        Assert.Equal("1", Encoding.UTF8.GetString((await client.GetAsync("before")).Value));

        // n4 and n5 started from the edited file (bootstrapping a configuration of their own), n2 and n3 down: n1 must not
        // commit with n4 + n5, and n4/n5 must not elect anyone.
        foreach (var id in new[] { "n4", "n5" })
            cluster.Servers[id] = RaftServer.Start(new NodeOptions { NodeId = id, Cluster = edited, DataDirectory = Path.Combine(cluster.Root, id) });
        await cluster.StopNodeAsync("n2");
        await cluster.StopNodeAsync("n3");
        await using (var impatient = new RaftClient(RaftClientOptions.For(edited) with { Deadline = TimeSpan.FromSeconds(3) }))
        {
            var lost = await Assert.ThrowsAnyAsync<RaftClientException>(() => impatient.PutAsync("split", "brain"));
            Assert.True(lost is RaftTimeoutException or RaftUnavailableException, lost.ToString());
        }
        Assert.DoesNotContain(new[] { "n4", "n5" }, id => cluster.Servers[id]!.Status.Role == "Leader");
        cluster.StartNode("n2");
        cluster.StartNode("n3");
        await client.PutAsync("healed", "3");
        Assert.Equal("2", Encoding.UTF8.GetString((await client.GetAsync("after")).Value));
        Assert.Equal(["n1", "n2", "n3"], (await client.MembersAsync()).Members.Select(m => m.Id).Order().ToArray());
    }

    [Fact]
    public async Task Grows_three_to_five_by_joining_then_removes_the_leader_and_shrinks_back_without_losing_a_write()
    {
        await using var cluster = InProcessCluster.Start(3);
        await cluster.WaitForLeaderAsync();
        await using var client = ClientFor(cluster);
        var acknowledged = new Dictionary<string, string>();
        async Task WriteSome(string prefix, int n)
        {
            for (int i = 0; i < n; i++)
            {
                await client.PutAsync($"{prefix}/{i}", $"{prefix}-{i}");
                acknowledged[$"{prefix}/{i}"] = $"{prefix}-{i}";
            }
        }
        await WriteSome("a", 50);

        foreach (var id in new[] { "n4", "n5" })
        {
            var (options, member) = Joiner(cluster, id);
            cluster.Servers[id] = RaftServer.Start(options);
            Assert.True(cluster.Servers[id]!.Status.Joining);
            await client.AddMemberAsync(id, member.Endpoint);
            await client.WaitForVoterAsync(id, Long);
            await WriteSome(id, 20);
        }
        var five = await client.MembersAsync();
        Assert.Equal(5, five.Members.Count(m => m.Role == MemberRoles.Voter));
        Assert.False(five.Joint);

        // Remove the leader: it hands leadership away first, the new leader removes it, and it learns it was removed.
        var leader = await cluster.WaitForLeaderAsync();
        var status = await client.RemoveMemberAsync(leader.NodeId);
        Assert.DoesNotContain(status.Members, m => m.Id == leader.NodeId);
        await Wait.UntilAsync(() => leader.IsRemoved, Long, () => $"{leader.NodeId} did not learn it was removed");
        await WriteSome("b", 20);

        // Shrink to three.
        var rest = (await client.MembersAsync()).Members.Select(m => m.Id).Where(id => id is "n4" or "n5").ToArray();
        await client.RemoveMemberAsync(rest[0]);
        var three = await client.MembersAsync();
        Assert.Equal(3, three.Members.Count);
        await WriteSome("c", 20);

        foreach (var (key, value) in acknowledged)
            Assert.Equal(value, Encoding.UTF8.GetString((await client.GetAsync(key)).Value));
    }

    [Fact]
    public async Task A_joined_member_restarts_with_only_its_id_and_data_directory()
    {
        await using var cluster = InProcessCluster.Start(3);
        await cluster.WaitForLeaderAsync();
        await using var client = ClientFor(cluster);
        await client.PutAsync("k", "v");
        var (options, member) = Joiner(cluster, "n4");
        cluster.Servers["n4"] = RaftServer.Start(options);
        await client.AddMemberAsync("n4", member.Endpoint, asLearner: true);
        var learner = (await client.MembersAsync()).Members.Single(m => m.Id == "n4");
        Assert.Equal(MemberRoles.Learner, learner.Role);
        await cluster.StopNodeAsync("n4");

        cluster.Servers["n4"] = RaftServer.Start(new NodeOptions { NodeId = "n4", DataDirectory = options.DataDirectory });
        await client.PutAsync("k2", "v2");
        var n4 = cluster.Servers["n4"]!;
        await Wait.UntilAsync(() => n4.Status.AppliedIndex >= n4.Status.CommitIndex && n4.Status.CommitIndex > 0 && !n4.Status.Joining, Long, () => "n4 did not catch up");
        Assert.False(n4.IsRemoved);
        await client.PromoteMemberAsync("n4");
        Assert.Equal(MemberRoles.Voter, (await client.MembersAsync()).Members.Single(m => m.Id == "n4").Role);

        // Restarted again as a voter, it can lead: leadership moves to it and writes go on.
        await cluster.StopNodeAsync("n4");
        n4 = cluster.Servers["n4"] = RaftServer.Start(new NodeOptions { NodeId = "n4", DataDirectory = options.DataDirectory });
        await Wait.UntilAsync(() => n4.Status.Leader is not null, Long, () => "restarted n4 found no leader");
        Assert.False(n4.IsRemoved);
        for (int i = 0; i < 100 && n4.Status.Role != "Leader"; i++)
        {
            try { await client.TransferLeadershipAsync("n4"); } catch (RaftClientException) { }
            await Task.Delay(100);
        }
        Assert.Equal("Leader", n4.Status.Role);
        await client.PutAsync("k3", "v3");
        Assert.Equal("v3", Encoding.UTF8.GetString((await client.GetAsync("k3")).Value));
    }

    [Fact]
    public async Task Refuses_unsafe_or_invalid_changes_with_a_reason_and_changes_nothing()
    {
        await using var cluster = InProcessCluster.Start(3);
        await cluster.WaitForLeaderAsync();
        await using var client = ClientFor(cluster);
        var n2 = cluster.Cluster.Find("n2")!;

        var dupId = await Assert.ThrowsAsync<RaftMembershipException>(() => client.AddMemberAsync("n2", "127.0.0.1:1"));
        Assert.Equal(MembershipError.DuplicateId, dupId.Reason);
        var dupAddress = await Assert.ThrowsAsync<RaftMembershipException>(() => client.AddMemberAsync("n9", n2.Endpoint));
        Assert.Equal(MembershipError.DuplicateAddress, dupAddress.Reason);
        var unknown = await Assert.ThrowsAsync<RaftMembershipException>(() => client.RemoveMemberAsync("nobody"));
        Assert.Equal(MembershipError.UnknownMember, unknown.Reason);
        var badEndpoint = await Assert.ThrowsAsync<RaftMembershipException>(() => client.AddMemberAsync("n9", "not-an-endpoint"));
        Assert.Equal(MembershipError.InvalidMember, badEndpoint.Reason);

        // A learner that never answered has proven nothing, however short the log: promoting it is refused.
        var port = FreePorts.Udp(1)[0];
        await client.AddMemberAsync("n6", $"127.0.0.1:{port}", asLearner: true);
        var behind = await Assert.ThrowsAsync<RaftMembershipException>(() => client.PromoteMemberAsync("n6"));
        Assert.Equal(MembershipError.LearnerBehind, behind.Reason);

        // With one voter down, removing another would leave 1 healthy voter of 2: refused.
        var leader = await cluster.WaitForLeaderAsync();
        var others = cluster.Cluster.Members.Select(m => m.Id).Where(id => id != leader.NodeId).ToArray();
        await cluster.StopNodeAsync(others[0]);
        for (int i = 0; i < 300 && (await client.MembersAsync()).Members.Single(m => m.Id == others[0]).Reachable; i++) await Task.Delay(20);
        var quorum = await Assert.ThrowsAsync<RaftMembershipException>(() => client.RemoveMemberAsync(others[1]));
        Assert.Equal(MembershipError.WouldLoseQuorum, quorum.Reason);

        // Removing the never-started learner is safe; re-adding its id afterwards is refused.
        await client.RemoveMemberAsync("n6");
        var removed = await Assert.ThrowsAsync<RaftMembershipException>(() => client.AddMemberAsync("n6", $"127.0.0.1:{port}"));
        Assert.Equal(MembershipError.RemovedId, removed.Reason);
        var members = await client.MembersAsync();
        Assert.Equal(["n1", "n2", "n3"], members.Members.Select(m => m.Id).Order().ToArray());
    }
}
