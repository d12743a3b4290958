using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    private static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(10);
    /// <summary>Per-node budget of `status`: a dead node should cost seconds, not the whole write deadline.</summary>
    private static readonly TimeSpan DefaultStatusTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The options every client command takes: where the cluster is and how to answer.</summary>
    private sealed class ClientOptions
    {
        public readonly Option<string?> Cluster = new("--cluster", "-c")
        {
            Description = "Cluster file (JSON or 'id host port' lines): members, cluster name and key.",
            HelpName = "FILE",
        };
        public readonly Option<string?> Endpoints = new("--endpoints", "-e")
        {
            Description = "Nodes to contact, host:port[,host:port...]; overrides the members of --cluster.",
            HelpName = "LIST",
        };
        public readonly Option<string?> ClusterName = new("--cluster-name")
        {
            Description = $"Cluster name when using --endpoints without --cluster (default '{ClusterDefinition.DefaultClusterName}').",
            HelpName = "NAME",
        };
        public readonly Option<double?> Timeout = new("--timeout", "-t")
        {
            Description = "Seconds an operation may take, retries included (default 10; status: per node, default 2).",
            HelpName = "SECONDS",
        };
        public readonly Option<bool> Json = new("--json") { Description = "Machine-readable output: one JSON document per line." };
        public readonly CredentialOptions Keys = new();

        public ClientOptions()
        {
            Timeout.Validators.Add(r =>
            {
                if (TryGetValue(r, out double? value) && value is { } s && (!(s > 0) || s > 86_400)) r.AddError($"--timeout must be a number of seconds above 0 (at most 86400), got {s}");
            });
        }

        public void AddTo(Command command)
        {
            command.Add(Cluster);
            command.Add(Endpoints);
            command.Add(ClusterName);
            command.Add(Timeout);
            command.Add(Json);
            Keys.AddClientOptionsTo(command);
        }
    }

    /// <summary>
    /// Client settings from --cluster / --endpoints / --cluster-name / --timeout, and the cluster file if one was given.
    /// <paramref name="fallbackEndpoints"/> stands in for --endpoints when neither that nor --cluster was given (a
    /// command aimed at one node already names it).
    /// </summary>
    private static (RaftClientOptions Options, ClusterDefinition? Cluster) ResolveClient(ParseResult pr, ClientOptions o, TimeSpan defaultDeadline,
        string? fallbackEndpoints = null)
    {
        string? file = pr.GetValue(o.Cluster);
        string? endpoints = pr.GetValue(o.Endpoints);
        string? name = pr.GetValue(o.ClusterName);
        if (file is null && endpoints is null) endpoints = fallbackEndpoints;
        if (file is null && endpoints is null)
            throw new UsageException("say where the cluster is: --cluster FILE or --endpoints host:port[,host:port...]");
        ClusterDefinition? cluster = file is null ? null : ClusterDefinition.Load(file);
        var options = cluster is null ? new RaftClientOptions() : RaftClientOptions.For(cluster);
        if (endpoints is not null) options = options with { Endpoints = ClusterDefinition.ParseEndpoints(endpoints) };
        if (name is not null)
        {
            if (cluster is not null && !string.Equals(name, cluster.ClusterName, StringComparison.Ordinal))
                throw new UsageException($"--cluster-name '{name}' contradicts the name '{cluster.ClusterName}' in {file}");
            options = options with { ClusterName = name };
        }
        options = CredentialOptions.Apply(options, o.Keys.Files(pr));
        var deadline = pr.GetValue(o.Timeout) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaultDeadline;
        options = options with
        {
            Deadline = deadline,
            StatusTimeout = deadline,
            // A single attempt never waits longer than the whole operation may.
            AttemptTimeout = deadline < options.AttemptTimeout ? deadline : options.AttemptTimeout,
        };
        return (options.Validate(), cluster);
    }

    /// <summary>Builds a client command whose body gets a connected client; errors are reported by <see cref="Guarded"/>.</summary>
    private Command ClientCommand(string name, string description, ClientOptions o, Func<ParseResult, RaftClient, bool, CancellationToken, Task<int>> body)
    {
        var command = new Command(name, description);
        o.AddTo(command);
        command.SetAction((pr, ct) =>
        {
            bool json = pr.GetValue(o.Json);
            return Guarded(async token =>
            {
                var (options, _) = ResolveClient(pr, o, DefaultDeadline);
                await using var client = new RaftClient(options);
                return await body(pr, client, json, token).ConfigureAwait(false);
            }, json, ct);
        });
        return command;
    }

    private static Argument<string> KeyArgument() => new("KEY") { Description = "The key." };

    private Command PutCommand()
    {
        var o = new ClientOptions();
        var key = KeyArgument();
        var value = new Argument<string>("VALUE") { Description = "The value, stored as UTF-8." };
        var command = ClientCommand("put", "Write a value (replicated to a majority before it returns).", o, async (pr, client, json, ct) =>
        {
            var item = await client.PutAsync(pr.GetValue(key)!, pr.GetValue(value)!, ct).ConfigureAwait(false);
            WriteWritten("put", item, json);
            return ExitCodes.Success;
        });
        command.Add(key);
        command.Add(value);
        return command;
    }

    private Command GetCommand()
    {
        var o = new ClientOptions();
        var key = KeyArgument();
        var stale = StaleOption();
        var command = ClientCommand("get", "Print a value. Exit code 4 when the key does not exist.", o, async (pr, client, json, ct) =>
        {
            var item = await client.GetAsync(pr.GetValue(key)!, Consistency(pr.GetValue(stale)), ct).ConfigureAwait(false);
            if (json)
            {
                Output.Json(_out, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("key", item.Key);
                    Output.WriteValue(w, item.Value);
                    w.WriteNumber("version", item.Version);
                    w.WriteEndObject();
                });
            }
            else
            {
                _out.WriteLine(Output.Display(item.Value));
            }
            return ExitCodes.Success;
        });
        command.Add(key);
        command.Add(stale);
        return command;
    }

    private Command DeleteCommand()
    {
        var o = new ClientOptions();
        var key = KeyArgument();
        var command = ClientCommand("delete", "Delete a key. Exit code 4 when it does not exist.", o, async (pr, client, json, ct) =>
        {
            string k = pr.GetValue(key)!;
            ulong index = await client.DeleteAsync(k, ct).ConfigureAwait(false);
            if (json)
            {
                Output.Json(_out, w =>
                {
                    w.WriteStartObject();
                    w.WriteString("key", k);
                    w.WriteBoolean("deleted", true);
                    w.WriteNumber("index", index);
                    w.WriteEndObject();
                });
            }
            else
            {
                _out.WriteLine($"deleted {Output.Cell(k)} (log index {index})");
            }
            return ExitCodes.Success;
        });
        command.Add(key);
        return command;
    }

    private Command CasCommand()
    {
        var o = new ClientOptions();
        var key = KeyArgument();
        var value = new Argument<string>("VALUE") { Description = "The new value, stored as UTF-8." };
        var expectVersion = new Option<ulong?>("--expect-version")
        {
            Description = "Write only if the key's version is N (0: only if the key does not exist).",
            HelpName = "N",
        };
        var expectValue = new Option<string?>("--expect-value") { Description = "Write only if the current value is V.", HelpName = "V" };
        var command = ClientCommand("cas",
            "Compare-and-set: write only if the key's version and/or value are as expected. Exit code 5 when they are not.", o,
            async (pr, client, json, ct) =>
            {
                var item = await client.CompareAndSetAsync(pr.GetValue(key)!, Encoding.UTF8.GetBytes(pr.GetValue(value)!),
                    pr.GetValue(expectVersion), pr.GetValue(expectValue) is { } v ? Encoding.UTF8.GetBytes(v) : null, ct).ConfigureAwait(false);
                WriteWritten("cas", item, json);
                return ExitCodes.Success;
            });
        command.Add(key);
        command.Add(value);
        command.Add(expectVersion);
        command.Add(expectValue);
        // Checked by the parser so the mistake is a usage error (2) before any network traffic.
        command.Validators.Add(r =>
        {
            var version = r.GetResult(expectVersion);
            if (version is null && r.GetResult(expectValue) is null)
                r.AddError("cas needs --expect-version N, --expect-value V, or both");
            else if (version is not null && TryGetValue(version, out ulong? v) && v == 0 && r.GetResult(expectValue) is not null)
                r.AddError("--expect-version 0 means the key must not exist, so it cannot be combined with --expect-value");
        });
        return command;
    }

    private Command ListCommand()
    {
        var o = new ClientOptions();
        var pattern = new Argument<string>("PATTERN")
        {
            Description = "Key prefix, or a wildcard pattern with * and ? (default: every key).",
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => "",
        };
        var limit = new Option<int>("--limit", "-n") { Description = "At most N items (0: no limit).", HelpName = "N" };
        limit.Validators.Add(r =>
        {
            if (TryGetValue(r, out int n) && n < 0) r.AddError("--limit cannot be negative");
        });
        var stale = StaleOption();
        var command = ClientCommand("list", "List keys with their versions and values, in key order.", o, async (pr, client, json, ct) =>
        {
            var items = await client.ListAsync(pr.GetValue(pattern) ?? "", pr.GetValue(limit), Consistency(pr.GetValue(stale)), ct).ConfigureAwait(false);
            if (json)
            {
                Output.Json(_out, w =>
                {
                    w.WriteStartArray();
                    foreach (var item in items)
                    {
                        w.WriteStartObject();
                        w.WriteString("key", item.Key);
                        Output.WriteValue(w, item.Value);
                        w.WriteNumber("version", item.Version);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                });
            }
            else if (items.Count == 0)
            {
                _err.WriteLine("no matching keys");
            }
            else
            {
                Output.Table(_out, ["KEY", "VERSION", "VALUE"],
                    items.Select(i => (IReadOnlyList<string>)[Output.Cell(i.Key), Num(i.Version), Output.Cell(Output.Display(i.Value))]));
            }
            return ExitCodes.Success;
        });
        command.Add(pattern);
        command.Add(limit);
        command.Add(stale);
        return command;
    }

    private Command StatusCommand()
    {
        var o = new ClientOptions();
        var command = new Command("status",
            "Show every node: role, term, leader, commit, applied and last log index, and any replica whose state digest differs from the leader's. Unreachable nodes are listed as such.\n" +
            "Exit code 6 when no node answers.");
        o.AddTo(command);
        command.SetAction((pr, ct) =>
        {
            bool json = pr.GetValue(o.Json);
            return Guarded(token => StatusAsync(pr, o, json, token), json, ct);
        });
        return command;
    }

    private sealed record StatusRow(string? Id, string Endpoint, NodeStatus? Status, string? Error);

    private async Task<int> StatusAsync(ParseResult pr, ClientOptions o, bool json, CancellationToken ct)
    {
        var (options, cluster) = ResolveClient(pr, o, DefaultStatusTimeout);
        // Rows follow the cluster file when there is one, so a node that is down still shows up by name.
        var targets = pr.GetValue(o.Endpoints) is null && cluster is not null
            ? cluster.Members.Select(m => (Id: (string?)m.Id, Text: m.Endpoint, EndPoint: m.ResolveEndPoint())).ToArray()
            : options.Endpoints.Select(ep => (Id: cluster?.Members.FirstOrDefault(m => m.ResolveEndPoint().Equals(ep))?.Id, Text: EndpointText(ep), EndPoint: ep)).ToArray();
        await using var client = new RaftClient(options);
        var rows = await Task.WhenAll(targets.Select(async t =>
        {
            try
            {
                var s = await client.StatusAsync(t.EndPoint, ct).ConfigureAwait(false);
                return new StatusRow(s.Id, t.Text, s, null);
            }
            catch (RaftClientException e)
            {
                return new StatusRow(t.Id, t.Text, null, e.Message);
            }
        })).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();

        var reachable = rows.Where(r => r.Status is not null).ToArray();
        var leader = reachable.Where(r => r.Status!.Role == "Leader").OrderByDescending(r => r.Status!.Term).FirstOrDefault();
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartArray();
                foreach (var r in rows)
                {
                    w.WriteStartObject();
                    if (r.Id is null) w.WriteNull("id"); else w.WriteString("id", r.Id);
                    w.WriteString("endpoint", r.Endpoint);
                    w.WriteBoolean("reachable", r.Status is not null);
                    if (r.Status is { } s)
                    {
                        w.WriteString("role", s.Role);
                        w.WriteNumber("term", s.Term);
                        if (s.Leader is null) w.WriteNull("leader"); else w.WriteString("leader", s.Leader);
                        w.WriteNumber("commitIndex", s.CommitIndex);
                        w.WriteNumber("appliedIndex", s.AppliedIndex);
                        w.WriteNumber("lastIndex", s.LastIndex);
                        w.WriteNumber("snapshotIndex", s.SnapshotIndex);
                        w.WriteString("member", MemberRole(s, leader?.Status));
                        if (leader?.Status?.Members.FirstOrDefault(m => m.Id == s.Id) is { } seen) w.WriteNumber("lag", seen.Lag);
                        w.WriteNumber("digestIndex", s.DigestIndex);
                        if (s.Digest is null) w.WriteNull("digest"); else w.WriteString("digest", s.Digest);
                        if (s.DigestMismatch is not null) w.WriteString("digestMismatch", s.DigestMismatch);
                    }
                    else
                    {
                        w.WriteString("error", r.Error);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
        }
        else
        {
            Output.Table(_out, ["ID", "ENDPOINT", "ROLE", "MEMBER", "LAG", "TERM", "LEADER", "COMMIT", "APPLIED", "LAST"], rows.Select(r => r.Status is { } s
                ? (IReadOnlyList<string>)[s.Id, r.Endpoint, s.Role, MemberRole(s, leader?.Status), MemberLag(s, leader?.Status), Num(s.Term), s.Leader ?? "-", Num(s.CommitIndex), Num(s.AppliedIndex), Num(s.LastIndex)]
                : [r.Id ?? "?", r.Endpoint, "unreachable", "-", "-", "-", "-", "-", "-", "-"]));
            _out.WriteLine($"{reachable.Length} of {rows.Length} nodes reachable; " +
                           (leader is null ? "no leader" : $"leader {leader.Status!.Id} in term {Num(leader.Status.Term)}"));
            foreach (var r in reachable.Where(r => r.Status!.DigestMismatch is not null))
                _out.WriteLine($"{r.Status!.Id}: STATE DRIFT: {r.Status.DigestMismatch}");
        }
        if (reachable.Length == 0)
            throw new RaftUnavailableException($"no node answered a status request within {options.Deadline.TotalSeconds:0.###} s", options.Endpoints);
        return ExitCodes.Success;
    }

    private static Option<bool> StaleOption() => new("--stale")
    {
        Description = "Read the local state of whichever node answers, without confirming leadership (may be out of date).",
    };

    private static ReadConsistency Consistency(bool stale) => stale ? ReadConsistency.Stale : ReadConsistency.Linearizable;

    private void WriteWritten(string verb, KvItem item, bool json)
    {
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartObject();
                w.WriteString("key", item.Key);
                w.WriteNumber("version", item.Version);
                w.WriteEndObject();
            });
        }
        else
        {
            _out.WriteLine($"{verb} {Output.Cell(item.Key)}: version {Num(item.Version)}");
        }
    }

    /// <summary>What a node is in the configuration: removed and joining come from the node, voter/learner from the leader.</summary>
    private static string MemberRole(NodeStatus s, NodeStatus? leader)
    {
        if (s.Removed) return "removed";
        if (s.Joining) return "joining";
        var role = (leader ?? s).Members.FirstOrDefault(m => m.Id == s.Id)?.Role ?? s.Members.FirstOrDefault(m => m.Id == s.Id)?.Role;
        return role?.ToLowerInvariant() ?? "-";
    }

    private static string MemberLag(NodeStatus s, NodeStatus? leader) =>
        leader?.Members.FirstOrDefault(m => m.Id == s.Id) is { } m ? Num(m.Lag) : "-";

    private static string Num(ulong n) => n.ToString(CultureInfo.InvariantCulture);

    private static string EndpointText(IPEndPoint ep) => ClusterDefinition.FormatEndpoint(ep.Address.ToString(), ep.Port);
}
