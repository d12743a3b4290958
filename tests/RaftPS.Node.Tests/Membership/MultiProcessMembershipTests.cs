using System.Collections.Concurrent;
using System.Text;
using RaftPS.Client;
using RaftPS.Node.Tests.Durability;
using RaftPS.Protocol;
using Xunit.Abstractions;

namespace RaftPS.Node.Tests.Membership;

/// <summary>
/// Live membership with real `raftps node` processes over UDP, under continuous writes: grow 3 → 5 with --join, remove
/// the leader, shrink to 3, replace a kill -9'd member by a fresh one with an empty data directory. Every acknowledged
/// write reads back at the end.
/// </summary>
[Collection(DurabilityCollection.Name)]
public class MultiProcessMembershipTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Grow_remove_the_leader_shrink_and_replace_a_crashed_member_under_write_load_loses_nothing()
    {
        await using var pc = ProcessCluster.Create(3);
        await Task.WhenAll(pc.Cluster.Members.Select(m => pc.StartAsync(m.Id)));
        await using var admin = RaftClient.Create(pc.Cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(30) });
        await admin.PutAsync("warmup", "1");

        var acknowledged = new ConcurrentDictionary<string, string>();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() => WriteAsync(pc.Cluster, acknowledged, failures, stop.Token));
        var joiners = new List<RaftpsProcess>();
        var log = new List<string>();
        try
        {
            async Task<string> JoinAsync(string id)
            {
                var port = FreePorts.Udp(1)[0];
                var endpoint = $"127.0.0.1:{port}";
                var p = RaftpsProcess.Start(id, ["node", "--id", id, "--data", pc.DataDir(id), "--listen", endpoint,
                    "--join", string.Join(",", pc.Cluster.Members.Select(m => m.Endpoint)), "--cluster-name", pc.Cluster.ClusterName]);
                joiners.Add(p);
                await p.WaitReadyAsync(TimeSpan.FromSeconds(30));
                await admin.AddMemberAsync(id, endpoint);
                await admin.WaitForVoterAsync(id, Long);
                log.Add($"{id} joined at {endpoint} and is a voter");
                return id;
            }

            await WaitForAcksAsync(acknowledged, 30);
            await JoinAsync("n4");
            await JoinAsync("n5");
            var five = await admin.MembersAsync();
            Assert.Equal(5, five.Members.Count(m => m.Role == MemberRoles.Voter));

            var leader = five.Id;
            await admin.RemoveMemberAsync(leader);
            log.Add($"removed leader {leader}");
            await WaitForAcksAsync(acknowledged, acknowledged.Count + 20);

            var victim = (await admin.MembersAsync()).Members.Select(m => m.Id).First(id => id is "n4" or "n5");
            await admin.RemoveMemberAsync(victim);
            log.Add($"removed {victim}");
            Assert.Equal(3, (await admin.MembersAsync()).Members.Count);

            // Replace a crashed member: kill -9 a follower, remove it, add a fresh node with an empty data directory.
            var now = await admin.MembersAsync();
            var crashed = now.Members.Select(m => m.Id).First(id => id != now.Id);
            KillMember(pc, joiners, crashed);
            log.Add($"kill -9 {crashed}");
            await admin.RemoveMemberAsync(crashed);
            await JoinAsync("n6");
            await WaitForAcksAsync(acknowledged, acknowledged.Count + 20);
            var final = await admin.MembersAsync();
            Assert.Equal(3, final.Members.Count(m => m.Role == MemberRoles.Voter));
            Assert.Contains(final.Members, m => m.Id == "n6");
        }
        catch
        {
            // The joiners are not the cluster's processes: stop them here too when the scenario fails.
            foreach (var p in joiners) p.Dispose();
            throw;
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(30)));
            foreach (var line in log) output.WriteLine(line);
        }
        try
        {
            Assert.True(writer.IsCompletedSuccessfully, "the writer failed or hung");
            Assert.True(failures.IsEmpty, "unexpected client errors: " + string.Join("; ", failures.Take(5)));
            output.WriteLine($"{acknowledged.Count} acknowledged writes");
            foreach (var (key, value) in acknowledged)
            {
                var item = await admin.GetAsync(key);
                Assert.True(value == Encoding.UTF8.GetString(item.Value), $"lost acknowledged write {key}={value}");
            }
            // The replicas that went through all of it (joined by snapshot or log, survived leader removal) hold the same state.
            var check = await admin.VerifyReplicasAsync(TimeSpan.FromSeconds(30));
            Assert.True(check.Complete, "replica digests: " + string.Join("; ", check.Replicas.Select(r => $"{r.Id} {r.State} {r.Detail}")));
        }
        finally
        {
            foreach (var p in joiners) p.Dispose();
        }
    }

    private static void KillMember(ProcessCluster pc, List<RaftpsProcess> joiners, string id)
    {
        if (pc.Nodes.ContainsKey(id)) pc.Kill(id);
        else joiners.Single(p => p.Id == id).Kill();
    }

    private static async Task WaitForAcksAsync(ConcurrentDictionary<string, string> acks, int atLeast)
    {
        for (int i = 0; i < 3000 && acks.Count < atLeast; i++) await Task.Delay(20);
        Assert.True(acks.Count >= atLeast, $"writes stalled at {acks.Count} (wanted {atLeast})");
    }

    /// <summary>Unique keys written one after another; an ack goes to the ledger, a timeout is of unknown outcome (not checked).</summary>
    private static async Task WriteAsync(ClusterDefinition cluster, ConcurrentDictionary<string, string> acknowledged, ConcurrentQueue<string> failures, CancellationToken stop)
    {
        await using var client = RaftClient.Create(cluster, new RaftClientOptions { Deadline = TimeSpan.FromSeconds(5) });
        for (int n = 0; n < 1_000_000 && !stop.IsCancellationRequested; n++)
        {
            var key = $"load/{n}";
            try
            {
                await client.PutAsync(key, $"v{n}");
                acknowledged[key] = $"v{n}";
                // Learn members added since start, so failover reaches them once the founding members are gone.
                if (n % 50 == 0) await client.MembersAsync();
            }
            catch (RaftClientException e) when (e is RaftTimeoutException or RaftUnavailableException)
            {
                await Task.Delay(20);
            }
            catch (RaftClientException e)
            {
                failures.Enqueue($"put {key}: {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
