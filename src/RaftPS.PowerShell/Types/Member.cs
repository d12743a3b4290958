using RaftPS.Protocol;

namespace RaftPS;

/// <summary>One member of the cluster configuration (Get-RaftMember, Add-RaftMember).</summary>
public sealed class Member
{
    public required string Id { get; init; }
    public required string Endpoint { get; init; }
    /// <summary>
    /// Voter; Learner (receives the log, does not vote or count towards a quorum); Joining (a learner the leader
    /// promotes once it has caught up); OutgoingVoter (a voter leaving in a joint configuration).
    /// </summary>
    public required string Role { get; init; }
    /// <summary>On the leader's view: the highest log index known to be on this member.</summary>
    public ulong Match { get; init; }
    /// <summary>On the leader's view: entries this member is behind the leader's last index.</summary>
    public ulong Lag { get; init; }
    /// <summary>On the leader's view: the member answered recently.</summary>
    public bool Reachable { get; init; }

    public bool IsVoter => Role is MemberRoles.Voter or MemberRoles.OutgoingVoter;

    internal static Member From(MemberInfo m) => new()
    {
        Id = m.Id,
        Endpoint = m.Endpoint,
        Role = m.Role,
        Match = m.Match,
        Lag = m.Lag,
        Reachable = m.Reachable,
    };

    public override string ToString() => Id;
}
