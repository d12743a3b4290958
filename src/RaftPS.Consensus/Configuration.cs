namespace RaftPS.Consensus;

/// <summary>
/// The cluster configuration the core acts on: voters (possibly joint), learners that replicate but never vote
/// (thesis §4.2.1), and learners that become voters when a joint configuration is left.
/// </summary>
public sealed class Configuration
{
    public Configuration(JointConfig voters, IEnumerable<ulong>? learners = null, IEnumerable<ulong>? learnersNext = null, bool autoLeave = false, byte[]? context = null)
    {
        Context = context;
        Voters = voters;
        Learners = (learners ?? []).Distinct().Order().ToArray();
        LearnersNext = (learnersNext ?? []).Distinct().Order().ToArray();
        AutoLeave = autoLeave;
        if (Learners.Any(Voters.Contains))
            throw new ArgumentException("a node cannot be both a voter and a learner");
        if (LearnersNext.Any(id => !Voters.Outgoing.Contains(id)))
            throw new ArgumentException("learners-next must be outgoing voters");
    }

    public JointConfig Voters { get; }
    public IReadOnlyList<ulong> Learners { get; }
    public IReadOnlyList<ulong> LearnersNext { get; }
    public bool AutoLeave { get; }
    /// <summary>Opaque data carried with the configuration (the node's member addresses); the core never reads it.</summary>
    public byte[]? Context { get; }

    public bool IsVoter(ulong id) => Voters.Contains(id);
    public bool IsLearner(ulong id) => Learners.Contains(id) || LearnersNext.Contains(id);
    public bool IsMember(ulong id) => IsVoter(id) || IsLearner(id);

    /// <summary>Every node that receives replication: voters of both halves and learners.</summary>
    public IEnumerable<ulong> AllIds => Voters.Ids.Union(Learners).Union(LearnersNext).Order();

    public static Configuration FromConfState(ConfState cs) =>
        new(new JointConfig(new MajorityConfig(cs.Voters), new MajorityConfig(cs.VotersOutgoing)), cs.Learners, cs.LearnersNext, cs.AutoLeave, cs.Context);

    public ConfState ToConfState() =>
        new(Voters.Incoming.Ids.ToArray(), Learners.ToArray(), Voters.Outgoing.Ids.ToArray(), LearnersNext.ToArray(), AutoLeave, Context);

    public override string ToString() =>
        $"voters={Voters}" + (Learners.Count > 0 ? $" learners=({string.Join(" ", Learners)})" : "") +
        (LearnersNext.Count > 0 ? $" learners_next=({string.Join(" ", LearnersNext)})" : "") + (AutoLeave ? " autoleave" : "");
}
