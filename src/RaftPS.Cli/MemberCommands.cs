using System.CommandLine;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    /// <summary>`raftps member list|add|remove|promote`: live membership through the leader (thesis §4).</summary>
    private Command MemberCommand()
    {
        var command = new Command("member", "Show or change the cluster's members while it serves (learners catch up, then become voters).");
        command.Add(MemberListCommand());
        command.Add(MemberAddCommand());
        command.Add(MemberRemoveCommand());
        command.Add(MemberPromoteCommand());
        return command;
    }

    private static Argument<string> MemberIdArgument() => new("ID") { Description = "The member's id (e.g. n4)." };

    private Command MemberListCommand()
    {
        var o = new ClientOptions();
        return ClientCommand("list", "List the members as the leader sees them: role, match index and lag.", o, async (pr, client, json, ct) =>
        {
            WriteMembers(await client.MembersAsync(ct).ConfigureAwait(false), json);
            return ExitCodes.Success;
        });
    }

    private Command MemberAddCommand()
    {
        var o = new ClientOptions();
        var id = MemberIdArgument();
        var endpoint = new Argument<string>("HOST:PORT") { Description = "Where the new member listens (start it with 'raftps node --join')." };
        var learner = new Option<bool>("--learner") { Description = "Keep it a non-voting learner (no automatic promotion)." };
        var wait = new Option<double>("--wait")
        {
            Description = "Seconds to wait for the new member to catch up and become a voter (default 60; 0 = return once added).",
            DefaultValueFactory = _ => 60, HelpName = "SECONDS",
        };
        var command = ClientCommand("add", "Add a member: it joins as a learner and is promoted to voter once caught up.", o, async (pr, client, json, ct) =>
        {
            var memberId = pr.GetValue(id)!;
            var status = await client.AddMemberAsync(memberId, pr.GetValue(endpoint)!, pr.GetValue(learner), ct).ConfigureAwait(false);
            if (!pr.GetValue(learner) && pr.GetValue(wait) > 0)
                status = await client.WaitForVoterAsync(memberId, TimeSpan.FromSeconds(pr.GetValue(wait)), cancellationToken: ct).ConfigureAwait(false);
            WriteMembers(status, json);
            return ExitCodes.Success;
        });
        command.Add(id);
        command.Add(endpoint);
        command.Add(learner);
        command.Add(wait);
        return command;
    }

    private Command MemberRemoveCommand()
    {
        var o = new ClientOptions();
        var id = MemberIdArgument();
        var force = new Option<bool>("--force")
        {
            Description = "Remove even if fewer reachable, caught-up voters than a quorum would remain (the cluster may stop accepting writes).",
        };
        var command = ClientCommand("remove", "Remove a member (removing the leader moves leadership first).", o, async (pr, client, json, ct) =>
        {
            WriteMembers(await client.RemoveMemberAsync(pr.GetValue(id)!, pr.GetValue(force), ct).ConfigureAwait(false), json);
            return ExitCodes.Success;
        });
        command.Add(id);
        command.Add(force);
        return command;
    }

    private Command MemberPromoteCommand()
    {
        var o = new ClientOptions();
        var id = MemberIdArgument();
        var force = new Option<bool>("--force") { Description = "Promote even if the learner is far behind (commits may stall until it catches up)." };
        var command = ClientCommand("promote", "Make a learner a voter now.", o, async (pr, client, json, ct) =>
        {
            WriteMembers(await client.PromoteMemberAsync(pr.GetValue(id)!, pr.GetValue(force), ct).ConfigureAwait(false), json);
            return ExitCodes.Success;
        });
        command.Add(id);
        command.Add(force);
        return command;
    }

    private void WriteMembers(NodeStatus status, bool json)
    {
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartObject();
                w.WriteString("leader", status.Id);
                w.WriteNumber("term", status.Term);
                w.WriteBoolean("joint", status.Joint);
                w.WriteBoolean("changePending", status.ChangePending);
                w.WriteStartArray("members");
                foreach (var m in status.Members)
                {
                    w.WriteStartObject();
                    w.WriteString("id", m.Id);
                    w.WriteString("endpoint", m.Endpoint);
                    w.WriteString("role", m.Role);
                    w.WriteNumber("match", m.Match);
                    w.WriteNumber("lag", m.Lag);
                    w.WriteBoolean("reachable", m.Reachable);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            });
            return;
        }
        Output.Table(_out, ["ID", "ENDPOINT", "ROLE", "MATCH", "LAG", "REACHABLE"], status.Members.Select(m =>
            (IReadOnlyList<string>)[m.Id, m.Endpoint, m.Role.ToLowerInvariant(), Num(m.Match), Num(m.Lag), m.Reachable ? "yes" : "no"]));
        _out.WriteLine($"leader {status.Id} in term {Num(status.Term)}" + (status.Joint ? "; joint configuration" : "") +
                       (status.ChangePending ? "; a change is in progress" : ""));
    }
}
