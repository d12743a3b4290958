using System.CommandLine;
using RaftPS.Client;

namespace RaftPS.Cli;

internal sealed partial class CliApp
{
    /// <summary>`raftps verify`: every replica hashes its state at one checkpoint; all digests must agree.</summary>
    private Command VerifyCommand()
    {
        var o = new ClientOptions();
        var wait = new Option<double>("--wait")
        {
            Description = "Seconds to wait for every member to reach the checkpoint (default 30).",
            DefaultValueFactory = _ => 30, HelpName = "SECONDS",
        };
        var command = ClientCommand("verify",
            "Check that the replicas hold identical state: the leader appends a digest checkpoint, every member hashes its state there, and the digests are compared (exit 13 when one differs).",
            o, async (pr, client, json, ct) =>
            {
                var check = await client.VerifyReplicasAsync(TimeSpan.FromSeconds(Math.Max(0, pr.GetValue(wait))), ct).ConfigureAwait(false);
                WriteReplicaCheck(check, json);
                return !check.Consistent ? ExitCodes.ReplicasDiffer : check.Complete ? ExitCodes.Success : ExitCodes.Unavailable;
            });
        command.Add(wait);
        return command;
    }

    private void WriteReplicaCheck(ReplicaCheck check, bool json)
    {
        if (json)
        {
            Output.Json(_out, w =>
            {
                w.WriteStartObject();
                w.WriteString("leader", check.Leader);
                w.WriteNumber("index", check.Index);
                w.WriteString("digest", check.Digest);
                w.WriteBoolean("consistent", check.Consistent);
                w.WriteBoolean("complete", check.Complete);
                w.WriteStartArray("replicas");
                foreach (var r in check.Replicas)
                {
                    w.WriteStartObject();
                    w.WriteString("id", r.Id);
                    w.WriteString("endpoint", r.Endpoint);
                    w.WriteString("state", r.State.ToString());
                    w.WriteNumber("digestIndex", r.DigestIndex);
                    if (r.Digest is null) w.WriteNull("digest"); else w.WriteString("digest", r.Digest);
                    if (r.Detail is null) w.WriteNull("detail"); else w.WriteString("detail", r.Detail);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            });
            return;
        }
        _out.WriteLine($"checkpoint at index {check.Index}, leader {check.Leader}, digest {check.Digest}");
        Output.Table(_out, ["ID", "ENDPOINT", "STATE", "INDEX", "DETAIL"], check.Replicas.Select(r =>
            (IReadOnlyList<string>)[r.Id, r.Endpoint, r.State.ToString().ToLowerInvariant(), Num(r.DigestIndex), r.Detail ?? ""]));
    }
}
