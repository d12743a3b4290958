using System.Management.Automation;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Gets the members of the cluster configuration.</summary>
/// <remarks>
/// <para>Emits one RaftPS.Member (Id, Endpoint, Role) per member of the configuration, as the leader reports it
/// (any node's view when there is no leader). Role is Voter or Learner: a learner receives the log but does not vote
/// and does not count towards a quorum.</para>
/// </remarks>
/// <example>
/// <code>Get-RaftMember</code>
/// <para>Lists the members of the session's cluster.</para>
/// </example>
/// <example>
/// <code>Get-RaftMember | Where-Object Role -eq Learner</code>
/// <para>Lists the learners that have not been promoted yet.</para>
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
        var states = ClusterStates();
        var view = states.FirstOrDefault(s => s.IsLeader) ?? states.FirstOrDefault(s => s.Role != "Unreachable");
        if (view is null)
        {
            Fail(RaftErrorId.NoQuorum, ErrorCategory.ConnectionError, $"No node of cluster '{ActiveConnection.ClusterName}' answered.", ActiveConnection);
            return;
        }
        var patterns = Id?.Select(i => WildcardPattern.Get(i, WildcardOptions.IgnoreCase)).ToArray();
        foreach (var m in view.Members)
            if (patterns is null || patterns.Any(p => p.IsMatch(m.Id))) WriteObject(m);
        foreach (var id in Id ?? [])
            if (!WildcardPattern.ContainsWildcardCharacters(id) && !view.Members.Any(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase)))
                Fail(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, $"'{id}' is not a member of cluster '{ActiveConnection.ClusterName}'.", id);
    }
}
