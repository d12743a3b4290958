using RaftPS.Protocol;

namespace RaftPS;

/// <summary>One member of the cluster configuration (Get-RaftMember).</summary>
public sealed class Member
{
    public required string Id { get; init; }
    public required string Endpoint { get; init; }
    /// <summary>Voter or Learner (a learner receives the log but does not vote or count towards a quorum).</summary>
    public required string Role { get; init; }
    public bool IsVoter => Role == "Voter";

    internal static Member From(MemberInfo m) => new()
    {
        Id = m.Id,
        Endpoint = ClusterDefinition.FormatEndpoint(m.Host, m.Port),
        Role = m.IsVoter ? "Voter" : "Learner",
    };

    public override string ToString() => Id;
}
