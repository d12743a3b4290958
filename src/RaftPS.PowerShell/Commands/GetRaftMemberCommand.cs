using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Gets the members of the cluster configuration.</summary>
/// <remarks>
/// <para>Asks the leader for the configuration and emits one RaftPS.Member per member: Id, Endpoint, Role (Voter,
/// Learner, Joining, OutgoingVoter) and, as the leader tracks them, Match (the highest log index known on the
/// member), Lag (entries behind the leader) and Reachable. A learner receives the log but does not vote and does not
/// count towards a quorum. Reports NoQuorum when no leader answers.</para>
/// </remarks>
/// <example>
/// <code>Get-RaftMember</code>
/// <para>Lists the members of the session's cluster with their replication lag.</para>
/// </example>
/// <example>
/// <code>Get-RaftMember | Where-Object Role -ne Voter</code>
/// <para>Lists the members that are not (yet) voters.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "RaftMember")]
[OutputType(typeof(Member))]
public sealed class GetRaftMemberCommand : RaftClientCmdlet
{
    /// <summary>Only these member ids; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(MemberIdCompleter))]
    public string[]? Id { get; set; }

    protected override void ProcessRecord()
    {
        TryRun(() => WriteMatchingIds(Await(ct => Client.MembersAsync(ct)).Members.Select(Member.From).ToArray(), m => m.Id, Id), ActiveConnection);
    }
}
