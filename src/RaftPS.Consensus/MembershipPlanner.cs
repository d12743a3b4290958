namespace RaftPS.Consensus;

/// <summary>
/// The leader's membership rules that are not part of the core protocol but must be the same wherever membership is
/// driven (the node and the simulation): when a learner counts as caught up (thesis §4.2.1), which change comes next
/// (leave a joint configuration marked AutoLeave; promote caught-up learners, one by a single-server step, several
/// through joint consensus, paper §6), and whether a target configuration keeps a quorum of reachable, caught-up voters.
/// Pure functions over the core's configuration and progress.
/// </summary>
public static class MembershipPlanner
{
    /// <summary>
    /// A follower is caught up when its match index is within <paramref name="maxLag"/> entries of the leader's last index
    /// (thesis §4.2.1: a new server must not be made a voter until it has caught up, or commits stall while it copies).
    /// </summary>
    /// A follower still probing has not acknowledged anything in this term, so its match index proves nothing yet.
    public static bool IsCaughtUp(Progress? progress, ulong leaderLastIndex, ulong maxLag) =>
        progress is { State: ProgressState.Replicate } && progress.Match + maxLag >= leaderLastIndex;

    /// <summary>
    /// The next configuration the leader should propose, or null if none: leaving a joint configuration marked AutoLeave
    /// comes first (so a new leader finishes a joint change its predecessor started); otherwise every learner in
    /// <paramref name="promoteWhenCaughtUp"/> that has caught up and was heard from recently becomes a voter — one alone by a single-server change,
    /// several at once by entering a joint configuration that leaves itself automatically.
    /// </summary>
    public static ConfState? NextStep(Configuration config, IReadOnlyCollection<ulong> promoteWhenCaughtUp,
        IReadOnlyDictionary<ulong, Progress> progress, ulong leaderLastIndex, ulong maxLag)
    {
        if (config.Voters.IsJoint)
            return config.AutoLeave ? LeaveJoint(config) : null;
        var ready = config.Learners
            .Where(id => promoteWhenCaughtUp.Contains(id) && progress.GetValueOrDefault(id) is { RecentActive: true } pr &&
                         IsCaughtUp(pr, leaderLastIndex, maxLag))
            .Order().ToArray();
        if (ready.Length == 0) return null;
        var voters = config.Voters.Incoming.Ids.Union(ready).Order().ToArray();
        var learners = config.Learners.Except(ready).ToArray();
        return ready.Length == 1
            ? new ConfState(voters, learners, [], [], false, config.Context)
            : new ConfState(voters, learners, config.Voters.Incoming.Ids.ToArray(), [], AutoLeave: true, config.Context);
    }

    /// <summary>C_new from C_old,new: the incoming voters alone; learners-next become learners (paper §6).</summary>
    public static ConfState LeaveJoint(Configuration config) =>
        new(config.Voters.Incoming.Ids.ToArray(), config.Learners.Union(config.LearnersNext).Order().ToArray(), [], [], false, config.Context);

    /// <summary>
    /// Whether <paramref name="target"/> would still have a quorum of voters that are reachable (heard from recently, or
    /// the leader itself) and caught up. Refusing changes that fail this keeps an operator from removing the servers that
    /// hold the cluster together, or adding voters that cannot yet acknowledge anything.
    /// </summary>
    /// <param name="reachable">Heard from recently (the node passes <see cref="Raft.HeardFromRecently"/>).</param>
    public static bool KeepsQuorum(ConfState target, ulong leaderId, IReadOnlyDictionary<ulong, Progress> progress,
        ulong leaderLastIndex, ulong maxLag, Func<ulong, bool> reachable)
    {
        var next = Configuration.FromConfState(target);
        bool Healthy(ulong id) =>
            id == leaderId || (reachable(id) && IsCaughtUp(progress.GetValueOrDefault(id), leaderLastIndex, maxLag));
        return next.Voters.Vote(id => Healthy(id)) == VoteResult.Won;
    }
}
