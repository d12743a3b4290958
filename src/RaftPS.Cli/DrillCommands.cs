using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Cli;

/// <summary>Failure drills: `fault` sets a node's injected transport faults, `transfer` moves leadership on purpose.</summary>
internal sealed partial class CliApp
{
    /// <summary>A longer delay only looks like a partition, and every delayed datagram is held in memory meanwhile.</summary>
    private const int MaxDelayMs = 60_000;
    /// <summary>A suspended node hears nothing, not even "resume": a typo must not take it away for days.</summary>
    private const int MaxSuspendMs = 3_600_000;
    /// <summary>Budget of one status probe while `transfer` waits: a node that does not answer must not stall the wait.</summary>
    private static readonly TimeSpan TransferProbeTimeout = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan TransferPollInterval = TimeSpan.FromMilliseconds(20);
    /// <summary>
    /// A leader abandons a transfer that has not finished within an election timeout (a lost TimeoutNow over UDP, a
    /// lagging target); asking again this often restarts it. Asking while one is under way is harmless.
    /// </summary>
    private static readonly TimeSpan TransferReaskInterval = TimeSpan.FromMilliseconds(500);

    private const string LeaderRole = "Leader";

    private Command FaultCommand()
    {
        var o = new ClientOptions();
        var node = new Option<string?>("--node")
        {
            Description = "The member (id in --cluster) whose faults to set.",
            HelpName = "ID",
        };
        var endpoint = new Option<string?>("--endpoint")
        {
            Description = "The node's host:port, instead of --node (for use with --endpoints, without a cluster file).",
            HelpName = "HOST:PORT",
        };
        var drop = new Option<double?>("--drop")
        {
            Description = "Drop this fraction of the node's peer datagrams, in and out (0 to 1; client traffic is spared).",
            HelpName = "RATE",
        };
        drop.Validators.Add(r =>
        {
            if (TryGetValue(r, out double? value) && value is { } d && !(d >= 0 && d <= 1))
                r.AddError($"--drop must be a fraction from 0 to 1, got {d.ToString(CultureInfo.InvariantCulture)}");
        });
        var delay = new Option<int?>("--delay-ms") { Description = $"Delay every peer datagram by this many ms (0 to {MaxDelayMs}).", HelpName = "MS" };
        delay.Validators.Add(r =>
        {
            if (TryGetValue(r, out int? value) && value is { } ms && ms is < 0 or > MaxDelayMs) r.AddError($"--delay-ms must be from 0 to {MaxDelayMs}, got {ms}");
        });
        var partition = new Option<string?>("--partition")
        {
            Description = "Cut the node off from these members, both directions: id[,id...]. Clients still reach it.",
            HelpName = "IDS",
        };
        var suspend = new Option<int?>("--suspend-ms")
        {
            Description = $"Suspend the node for this many ms: nothing in or out, like a paused VM. It resumes by itself (at most {MaxSuspendMs}).",
            HelpName = "MS",
        };
        suspend.Validators.Add(r =>
        {
            if (TryGetValue(r, out int? value) && value is { } ms && ms is < 0 or > MaxSuspendMs) r.AddError($"--suspend-ms must be from 0 to {MaxSuspendMs}, got {ms}");
        });
        var clear = new Option<bool>("--clear") { Description = "Remove every fault from the node." };

        var command = new Command("fault",
            "Failure drills: set the transport faults of one node (drop, delay, partition, suspend) or --clear them.\n" +
            "Each call replaces all of that node's faults. The node must run with --allow-fault-injection; otherwise it\n" +
            "refuses with exit code 9.")
        {
            node, endpoint, drop, delay, partition, suspend, clear,
        };
        o.AddTo(command);
        command.SetAction((pr, ct) =>
        {
            bool json = pr.GetValue(o.Json);
            return Guarded(token => FaultAsync(pr, o, new FaultArgs(
                pr.GetValue(node), pr.GetValue(endpoint), pr.GetValue(drop), pr.GetValue(delay), pr.GetValue(partition),
                pr.GetValue(suspend), pr.GetValue(clear)), json, token), json, ct);
        });
        return command;
    }

    private sealed record FaultArgs(string? Node, string? Endpoint, double? Drop, int? DelayMs, string? Partition, int? SuspendMs, bool Clear);

    private async Task<int> FaultAsync(ParseResult pr, ClientOptions o, FaultArgs a, bool json, CancellationToken ct)
    {
        // Combinations first: they need no file and no network.
        if (a.Node is not null && a.Endpoint is not null) throw new UsageException("give --node ID or --endpoint HOST:PORT, not both");
        if (a.Node is null && a.Endpoint is null)
            throw new UsageException("say which node: --node ID (a member of --cluster) or --endpoint HOST:PORT");
        var given = new List<string>(4);
        if (a.Drop is not null) given.Add("--drop");
        if (a.DelayMs is not null) given.Add("--delay-ms");
        if (a.Partition is not null) given.Add("--partition");
        if (a.SuspendMs is not null) given.Add("--suspend-ms");
        if (a.Clear && given.Count > 0) throw new UsageException($"--clear cannot be combined with {string.Join(", ", given)}");
        if (!a.Clear && given.Count == 0)
            throw new UsageException("say what to inject: --drop RATE, --delay-ms MS, --partition IDS, --suspend-ms MS, or --clear");
        if (a.Node is not null && !ClusterDefinition.IsValidId(a.Node)) throw new UsageException($"--node '{a.Node}' is not a member id");

        var (options, cluster) = ResolveClient(pr, o, DefaultDeadline, fallbackEndpoints: a.Endpoint);
        IPEndPoint target;
        string? targetId;
        if (a.Node is not null)
        {
            if (cluster is null)
                throw new UsageException("--node needs --cluster FILE to find the node; with --endpoints, name it by --endpoint HOST:PORT");
            var member = cluster.Find(a.Node) ?? throw NotAMember("--node", a.Node, cluster, pr.GetValue(o.Cluster));
            target = member.ResolveEndPoint();
            targetId = member.Id;
        }
        else
        {
            target = ClusterDefinition.ParseEndpoint(a.Endpoint!);
            targetId = cluster?.Members.FirstOrDefault(m => m.ResolveEndPoint().Equals(target))?.Id;
        }

        string[] partitionFrom = a.Partition is null ? [] : ParsePartition(a.Partition, targetId, cluster, pr.GetValue(o.Cluster));
        var spec = new FaultSpec
        {
            DropRate = a.Drop ?? 0,
            DelayMs = a.DelayMs ?? 0,
            PartitionFrom = partitionFrom,
            SuspendMs = a.SuspendMs ?? 0,
        };

        await using var client = new RaftClient(options);
        try
        {
            await client.SetFaultsAsync(target, spec, ct).ConfigureAwait(false);
        }
        catch (RaftBadRequestException e) when (e.Message.Contains("fault injection is disabled", StringComparison.OrdinalIgnoreCase))
        {
            throw new RaftBadRequestException($"{e.Message}; for drills, start it with 'raftps node ... --allow-fault-injection'");
        }

        string endpointText = EndpointText(target);
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartObject();
                if (targetId is null) w.WriteNull("node"); else w.WriteString("node", targetId);
                w.WriteString("endpoint", endpointText);
                w.WriteBoolean("cleared", a.Clear);
                w.WriteNumber("dropRate", spec.DropRate);
                w.WriteNumber("delayMs", spec.DelayMs);
                w.WriteStartArray("partitionFrom");
                foreach (var id in spec.PartitionFrom) w.WriteStringValue(id);
                w.WriteEndArray();
                w.WriteNumber("suspendMs", spec.SuspendMs);
                w.WriteEndObject();
            });
        }
        else
        {
            string who = targetId is null ? endpointText : $"{targetId} ({endpointText})";
            _out.WriteLine($"fault {who}: {(a.Clear ? "cleared" : Output.DescribeFaults(spec))}");
        }
        return ExitCodes.Success;
    }

    /// <summary>"n2,n3" → member ids, checked against the cluster file when there is one (otherwise the node checks them).</summary>
    private static string[] ParsePartition(string text, string? targetId, ClusterDefinition? cluster, string? clusterFile)
    {
        var ids = new List<string>();
        foreach (var token in text.Split([',', ';', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            if (!ClusterDefinition.IsValidId(token)) throw new UsageException($"--partition: '{token}' is not a member id");
            string id = token;
            if (cluster is not null) id = (cluster.Find(token) ?? throw NotAMember("--partition", token, cluster, clusterFile)).Id;
            if (targetId is not null && string.Equals(id, targetId, StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--partition names {id} itself; a node cannot be cut off from itself");
            if (!ids.Contains(id, StringComparer.OrdinalIgnoreCase)) ids.Add(id);
        }
        if (ids.Count == 0) throw new UsageException("--partition needs at least one member id (id[,id...])");
        return [.. ids];
    }

    private static UsageException NotAMember(string what, string id, ClusterDefinition cluster, string? file) =>
        new($"{what} '{id}' is not a member of cluster '{cluster.ClusterName}'{(file is null ? "" : $" in {file}")} " +
            $"(members: {string.Join(", ", cluster.Members.Select(m => m.Id))})");

    private Command TransferCommand()
    {
        var o = new ClientOptions();
        var target = new Argument<string>("NODE") { Description = "The member to hand leadership to." };
        var command = new Command("transfer",
            "Hand leadership to NODE: asks the current leader, then waits until NODE reports itself leader and prints\n" +
            "how long it took. Exit code 6 when leadership has not moved within --timeout (default 10 s).")
        {
            target,
        };
        o.AddTo(command);
        command.SetAction((pr, ct) =>
        {
            bool json = pr.GetValue(o.Json);
            return Guarded(token => TransferAsync(pr, o, pr.GetValue(target)!, json, token), json, ct);
        });
        return command;
    }

    private async Task<int> TransferAsync(ParseResult pr, ClientOptions o, string targetId, bool json, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        if (!ClusterDefinition.IsValidId(targetId)) throw new UsageException($"'{targetId}' is not a member id");
        var (options, cluster) = ResolveClient(pr, o, DefaultDeadline);
        IPEndPoint? targetEndPoint = null;
        if (cluster is not null)
        {
            var member = cluster.Find(targetId) ?? throw NotAMember("transfer target", targetId, cluster, pr.GetValue(o.Cluster));
            targetId = member.Id;
            targetEndPoint = member.ResolveEndPoint();
        }

        var probeTimeout = options.Deadline < TransferProbeTimeout ? options.Deadline : TransferProbeTimeout;
        var probeOptions = options with
        {
            Deadline = probeTimeout,
            StatusTimeout = probeTimeout,
            AttemptTimeout = options.AttemptTimeout < probeTimeout ? options.AttemptTimeout : probeTimeout,
        };
        NodeStatus? previousLeader;
        await using (var probe = new RaftClient(probeOptions))
        {
            var before = await TryStatusesAsync(probe, ct).ConfigureAwait(false);
            previousLeader = before.Where(s => s.Role == LeaderRole).MaxBy(s => s.Term);
            if (cluster is null)
            {
                // No cluster file: the nodes' own member lists say who may lead and where the target listens.
                var members = before.SelectMany(s => s.Members).DistinctBy(m => m.Id, StringComparer.OrdinalIgnoreCase).ToArray();
                if (members.Length > 0)
                {
                    var m = members.FirstOrDefault(m => string.Equals(m.Id, targetId, StringComparison.OrdinalIgnoreCase))
                            ?? throw new UsageException($"transfer target '{targetId}' is not a member of the cluster (members: {string.Join(", ", members.Select(x => x.Id))})");
                    if (!m.IsVoter) throw new UsageException($"transfer target '{m.Id}' is not a voting member; only voters can lead");
                    targetId = m.Id;
                    targetEndPoint = ClusterDefinition.ResolveEndPoint(m.Host, m.Port, m.Id);
                }
            }
        }
        if (previousLeader is not null && string.Equals(previousLeader.Id, targetId, StringComparison.OrdinalIgnoreCase))
        {
            WriteTransferred(json, targetId, null, previousLeader.Term, TimeSpan.Zero, alreadyLeader: true);
            return ExitCodes.Success;
        }

        var remaining = options.Deadline - total.Elapsed;
        if (remaining <= TimeSpan.Zero) throw NotMoved(targetId, options, null);
        await using var client = new RaftClient(options with { Deadline = remaining });
        // Watch the target itself when its address is known: its own status is what `status` shows as leader.
        await using var watch = new RaftClient(probeOptions with { Endpoints = targetEndPoint is null ? options.Endpoints : [targetEndPoint] });

        var moving = Stopwatch.StartNew();
        await client.TransferLeadershipAsync(targetId, ct).ConfigureAwait(false);
        var lastAsked = moving.Elapsed;
        NodeStatus? lastSeen = null;
        while (true)
        {
            var seen = await TryStatusesAsync(watch, ct).ConfigureAwait(false);
            var self = seen.FirstOrDefault(s => string.Equals(s.Id, targetId, StringComparison.OrdinalIgnoreCase));
            if (self is not null) lastSeen = self;
            if (self?.Role == LeaderRole)
            {
                WriteTransferred(json, self.Id, previousLeader?.Id, self.Term, moving.Elapsed, alreadyLeader: false);
                return ExitCodes.Success;
            }
            remaining = options.Deadline - total.Elapsed;
            if (remaining <= TimeSpan.Zero) throw NotMoved(targetId, options, lastSeen);
            if (moving.Elapsed - lastAsked >= TransferReaskInterval)
            {
                await AskAgainAsync(client, targetId, remaining, ct).ConfigureAwait(false);
                lastAsked = moving.Elapsed;
                continue;
            }
            await Task.Delay(remaining < TransferPollInterval ? remaining : TransferPollInterval, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Repeats the transfer request within what is left of the deadline; only a refusal ends the wait early.</summary>
    private static async Task AskAgainAsync(RaftClient client, string targetId, TimeSpan remaining, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(remaining);
        try
        {
            await client.TransferLeadershipAsync(targetId, bounded.Token).ConfigureAwait(false);
        }
        catch (RaftUnavailableException)
        {
            // Mid-election there is no leader to ask; the next poll may already see the target leading.
        }
        catch (RaftTimeoutException)
        {
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // Our own bound ran out; the caller reports the deadline.
        }
    }

    /// <summary>Statuses of the client's endpoints that answered (none: empty, not an error, while waiting for an election).</summary>
    private static async Task<IReadOnlyList<NodeStatus>> TryStatusesAsync(RaftClient client, CancellationToken ct)
    {
        try
        {
            return await client.ClusterStatusAsync(ct).ConfigureAwait(false);
        }
        catch (RaftUnavailableException)
        {
            return [];
        }
    }

    private static RaftUnavailableException NotMoved(string targetId, RaftClientOptions options, NodeStatus? lastSeen) =>
        new($"leadership did not move to {targetId} within {options.Deadline.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s; " +
            (lastSeen is null
                ? $"{targetId} did not answer a status request"
                : $"{targetId} is {lastSeen.Role} in term {Num(lastSeen.Term)}, leader {lastSeen.Leader ?? "unknown"}"),
            options.Endpoints);

    private void WriteTransferred(bool json, string leader, string? previous, ulong term, TimeSpan elapsed, bool alreadyLeader)
    {
        long ms = (long)elapsed.TotalMilliseconds;
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartObject();
                w.WriteString("leader", leader);
                if (previous is null) w.WriteNull("previousLeader"); else w.WriteString("previousLeader", previous);
                w.WriteNumber("term", term);
                w.WriteNumber("elapsedMs", ms);
                w.WriteBoolean("alreadyLeader", alreadyLeader);
                w.WriteEndObject();
            });
        }
        else if (alreadyLeader)
        {
            _out.WriteLine($"{leader} is already the leader (term {Num(term)})");
        }
        else
        {
            _out.WriteLine($"leadership moved {(previous is null ? "" : $"from {previous} ")}to {leader} in {ms.ToString(CultureInfo.InvariantCulture)} ms (term {Num(term)})");
        }
    }
}
