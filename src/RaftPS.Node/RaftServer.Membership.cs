using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.Membership;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>
/// Live membership. The configuration in the core (latest appended entry, thesis §4.1) is the one source of truth; its
/// context is the <see cref="MemberTable"/> with every member's address, so the address book follows it. The leader
/// validates operator changes, adds servers as learners and promotes them once caught up (thesis §4.2.1), finishes
/// joint configurations (paper §6), and hands leadership away before removing itself.
/// </summary>
public sealed partial class RaftServer
{
    // Members of the latest configuration (appended, maybe uncommitted): addresses to send to.
    private MemberTable _members = MemberTable.Empty;
    private Configuration? _followedConfig;
    // Membership requests waiting for their configuration entry to apply, by entry index.
    private readonly Dictionary<ulong, List<PendingRequest>> _pendingMembership = new();
    private bool _everMember;
    // Whether the latest applied configuration lists this node: removal is a transition of applied configurations.
    private bool _appliedConfigHasMe;
    // Removed only on a member's word (no committed configuration of ours says so yet): undone if a leader still replicates to us.
    private bool _removedByNotice;
    // Members of the latest applied (committed) configuration: removals there are final, so only they are announced.
    private MemberTable _appliedMembers = MemberTable.Empty;
    private ulong _appliedConfigIndex;
    private readonly Dictionary<ulong, long> _lastRemovedNotice = new();
    // Index of the last configuration entry the leader proposed by itself (promotion, leaving joint).
    private ulong _autoChangeIndex;

    /// <summary>
    /// What is in flight is not another operator's change on this leader: a joint configuration that leaves itself, this
    /// leader's own automatic step, a new leader's no-op, or an entry a previous leader proposed (it applies with the no-op).
    /// </summary>
    private bool OnlyAutomaticStepPending() =>
        _raft.Config.Voters.IsJoint ? _raft.Config.AutoLeave
        : !_raft.ConfEntryPending || _autoChangeIndex > _raft.Log.Applied || _raft.Log.Term(_raft.PendingConfIndex) != _raft.Term;
    private volatile bool _removed;

    /// <summary>True once this node applied a configuration that removed it: it no longer campaigns or serves.</summary>
    public bool IsRemoved => _removed;

    /// <summary>Brings the address book in line with the core's latest configuration (called whenever it may have changed).</summary>
    private void FollowConfiguration()
    {
        var config = _raft.Config;
        if (ReferenceEquals(config, _followedConfig)) return;
        _followedConfig = config;
        MemberTable members;
        try
        {
            members = MemberTable.Decode(config.Context);
        }
        catch (Exception ex) when (ex is RaftPS.Protocol.Wire.WireFormatException)
        {
            // Every replica decodes the same bytes the same way; keep the addresses we have.
            _log.LogError(ex, "configuration {Config} carries an unreadable member table", config);
            return;
        }
        foreach (var m in members.Members)
        {
            if (m.NodeId == _self.NodeId) continue;
            if (ClusterDefinition.LiteralEndPoint(m.Host, m.Port) is { } literal)
            {
                _transport.Peers.Set(m.NodeId, literal);
                continue;
            }
            // A host name goes through DNS off the loop (a slow resolver must not stall heartbeats); the answer is used
            // only if the member still has that address when it arrives.
            var member = m;
            _ = Task.Run(member.ResolveEndPoint).ContinueWith(t => Post(new LoopEvent.Invoke(() =>
            {
                if (t.Exception?.GetBaseException() is { } ex)
                    _log.LogWarning("member {Member}: {Message}", member.Id, ex.Message);
                else if (_members.Find(member.NodeId) == member)
                    _transport.Peers.Set(member.NodeId, t.Result);
            })), TaskScheduler.Default);
        }
        // Removed servers keep their address: they may still need to be told they were removed.
        _members = members;
        if (config.IsMember(_self.NodeId)) _everMember = true;
        _log.LogInformation("configuration now {Config}: {Members}", config, string.Join(", ", members.Members.Select(m => $"{m.Id}@{m.Endpoint}")));
    }

    /// <summary>After a configuration entry applies: answer its requester; notice when this node was removed (paper §6).</summary>
    private void OnConfigurationApplied(Entry e)
    {
        NoteAppliedConfiguration(_raft.ConfStateAt(e.Index), e.Index);
        if (_pendingMembership.Remove(e.Index, out var waiting))
            foreach (var w in waiting) Reply(w.ReplyTo, new ClientReply { RequestId = w.Request.RequestId, NodeStatus = BuildStatus() });
    }

    /// <summary>
    /// Records a configuration that applied (an entry or an installed snapshot). This node is removed when its id is in the
    /// removed list, or when the previous applied configuration listed it and this one does not (paper §6); replaying
    /// older configurations after a restart never counts. The leader tells servers it just removed (a learner never
    /// sends anything, so it would never be told otherwise).
    /// </summary>
    private void NoteAppliedConfiguration(ConfState applied, ulong index)
    {
        var previous = _appliedMembers;
        var table = MemberTable.Decode(applied.Context);
        _appliedMembers = table;
        _appliedConfigIndex = index;
        bool hasMe = Configuration.FromConfState(applied).IsMember(_self.NodeId);
        if (!_removed && (table.IsRemoved(_self.NodeId) || (_appliedConfigHasMe && !hasMe)))
        {
            _removed = true;
            _removedByNotice = false;
            _log.LogWarning("{Node} was removed from the cluster at index {Index}; it no longer campaigns or serves", _self.Id, index);
        }
        else if (_removedByNotice && hasMe)
        {
            UndoRemovedNotice();
        }
        _appliedConfigHasMe = hasMe;
        if (_raft.Role == Role.Leader)
            foreach (var id in table.RemovedNodeIds.Where(id => !previous.IsRemoved(id))) _transport.SendRemovedNotice(id, index);
    }

    private void UndoRemovedNotice()
    {
        _removed = false;
        _removedByNotice = false;
        _log.LogWarning("{Node}: a leader still replicates to it, so the removal notice it got was wrong; it serves again", _self.Id);
    }

    /// <summary>
    /// A peer message from a server removed by a committed configuration is refused (it may come back with stale data
    /// and must not be re-admitted), and the server is told, at most every 100 ms, so it stops campaigning. True when refused.
    /// </summary>
    private bool RefuseRemovedServer(ulong from)
    {
        if (!_appliedMembers.IsRemoved(from)) return false;
        var now = NowMs;
        if (!_lastRemovedNotice.TryGetValue(from, out var last) || now - last >= 100)
        {
            _lastRemovedNotice[from] = now;
            _transport.SendRemovedNotice(from, _appliedConfigIndex);
        }
        return true;
    }

    /// <summary>
    /// A member (authenticated like any peer) says this node was removed: stop campaigning and serving. Only a committed
    /// configuration of its own makes that final; a leader that still replicates to it undoes it (a wrong notice must not
    /// silence a member for good).
    /// </summary>
    private void OnRemovedNotice(ulong sender, ulong configIndex)
    {
        if (_removed || sender == _self.NodeId || _appliedMembers.IsRemoved(sender) || !_members.Contains(sender)) return;
        _removed = true;
        _removedByNotice = true;
        _log.LogWarning("{Node} was removed from the cluster (configuration at index {Index}, told by {Sender}); it no longer campaigns or serves",
            _self.Id, configIndex, NameOf(sender) ?? sender.ToString("x16"));
    }

    /// <summary>
    /// Leader, every loop round: the next automatic step, if any — leave a joint configuration marked AutoLeave (so a new
    /// leader finishes what the old one started), or promote learners that have caught up.
    /// </summary>
    private void AdvanceMembership()
    {
        if (_raft.Role != Role.Leader || _raft.ConfChangePending) return;
        var config = _raft.Config;
        var promote = _members.PromoteNodeIds();
        if (!config.Voters.IsJoint && (promote.Length == 0 || config.Learners.Count == 0)) return;
        var next = MembershipPlanner.NextStep(config, promote, _raft.Progress, _raft.Log.LastIndex, _options.PromotionMaxLag);
        if (next is null) return;
        var nextConfig = Configuration.FromConfState(next);
        var table = config.Voters.IsJoint
            ? _members.RetainOnly(nextConfig.AllIds)
            : _members.WithoutPromotion(_members.Members.Where(m => nextConfig.IsVoter(m.NodeId)).Select(m => m.Id));
        var index = ProposeConfiguration(next with { Context = table.Encode() });
        if (index > 0) _autoChangeIndex = index;
        if (index > 0) _log.LogInformation("membership: proposed {Config} at {Index}", nextConfig, index);
    }

    private ulong ProposeConfiguration(ConfState target)
    {
        try
        {
            return _raft.ProposeConfChange(target);
        }
        catch (ArgumentException ex)
        {
            _log.LogWarning("configuration change refused by the core: {Message}", ex.Message);
            return 0;
        }
    }

    private void HandleMembership(ClientRequest r, EndPoint from)
    {
        if (r.Op == ClientOp.Members)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, NodeStatus = BuildStatus() });
            return;
        }
        var (target, error, message) = r.Op switch
        {
            ClientOp.AddMember => PlanAdd(r),
            ClientOp.RemoveMember => PlanRemove(r),
            _ => PlanPromote(r),
        };
        if (error == MembershipError.None && target is null)
        {
            // Already in the requested state (a retry of a change that went through): answer with the configuration —
            // once the entry that made it so has applied, never before (it could still be lost).
            if (_raft.ConfEntryPending) WaitForConfiguration(_raft.PendingConfIndex, new PendingRequest(r, from));
            else Reply(from, new ClientReply { RequestId = r.RequestId, NodeStatus = BuildStatus() });
            return;
        }
        if (error == MembershipError.ChangeInProgress && OnlyAutomaticStepPending())
        {
            // Only this new leader's no-op (it must commit before any change, Ongaro 2015) or an automatic step (a
            // promotion, leaving a joint configuration) is outstanding: a moment's wait, not another operator's change.
            // Unavailable makes the client retry.
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = "a membership step is completing; retry" });
            return;
        }
        if (error != MembershipError.None)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.MembershipRejected, MembershipError = error, Error = message });
            return;
        }
        if (r.Op == ClientOp.RemoveMember && r.Key == _self.Id)
        {
            HandOffLeadership(r, from, target!);
            return;
        }
        var index = ProposeConfiguration(target!);
        if (index == 0 && _raft.LeadTransferee != 0)
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = "leadership is being transferred; retry" });
            return;
        }
        if (index == 0 && OnlyAutomaticStepPending())
        {
            Reply(from, new ClientReply { RequestId = r.RequestId, Status = ReplyStatus.Unavailable, Error = "a membership step is completing; retry" });
            return;
        }
        if (index == 0)
        {
            Reply(from, new ClientReply
            {
                RequestId = r.RequestId, Status = ReplyStatus.MembershipRejected, MembershipError = MembershipError.ChangeInProgress,
                Error = "another configuration change is in progress; retry when it has applied",
            });
            return;
        }
        _log.LogInformation("membership: {Op} {Member} proposed at {Index}: {Config}", r.Op, r.Key, index, Configuration.FromConfState(target!));
        WaitForConfiguration(index, new PendingRequest(r, from));
    }

    private void WaitForConfiguration(ulong index, PendingRequest request)
    {
        if (!_pendingMembership.TryGetValue(index, out var list)) _pendingMembership[index] = list = new List<PendingRequest>(1);
        list.Add(request);
    }

    /// <summary>
    /// A leader removing itself first hands leadership to the most caught-up remaining voter (thesis §3.10); the client is
    /// told to retry there, and the new leader removes this node.
    /// </summary>
    private void HandOffLeadership(ClientRequest r, EndPoint from, ConfState target)
    {
        var heir = target.Voters.Where(id => id != _self.NodeId && _raft.Progress.ContainsKey(id) && _raft.HeardFromRecently(id))
            .OrderByDescending(id => _raft.Progress[id].Match).FirstOrDefault();
        var heirMember = heir == 0 ? null : _members.Find(heir);
        if (heirMember is null || !_raft.TransferLeadership(heir))
        {
            Reply(from, new ClientReply
            {
                RequestId = r.RequestId, Status = ReplyStatus.MembershipRejected, MembershipError = MembershipError.WouldLoseQuorum,
                Error = "the leader cannot hand over leadership before removing itself (no remaining voter can take it now)",
            });
            return;
        }
        _log.LogInformation("membership: removing myself; handing leadership to {Heir} first", heirMember.Id);
        Reply(from, new ClientReply
        {
            RequestId = r.RequestId, Status = ReplyStatus.NotLeader, LeaderId = heirMember.Id, LeaderEndpoint = heirMember.Endpoint,
            Error = $"leadership is moving to {heirMember.Id} before this node is removed; retry there",
        });
    }

    private static (ConfState? Target, MembershipError Error, string? Message) Refuse(MembershipError error, string message) => (null, error, message);

    private (ConfState?, MembershipError, string?) PlanAdd(ClientRequest r)
    {
        if (!ClusterDefinition.IsValidId(r.Key)) return Refuse(MembershipError.InvalidMember, $"'{r.Key}' is not a valid member id");
        ClusterMember candidate;
        try
        {
            var ep = ClusterDefinition.ParseEndpoint(r.Endpoint ?? "");
            candidate = new ClusterMember(r.Key, ep.Address.ToString(), ep.Port);
        }
        catch (ClusterDefinitionException ex)
        {
            return Refuse(MembershipError.InvalidMember, $"bad endpoint '{r.Endpoint}': {ex.Message}");
        }
        if (_members.IsRemoved(candidate.NodeId))
            return Refuse(MembershipError.RemovedId, $"'{r.Key}' was removed from this cluster; a replacement needs a new id");
        if (_members.Find(candidate.NodeId) is { } existing)
        {
            if (existing.Id == candidate.Id && existing.Endpoint == candidate.Endpoint) return (null, MembershipError.None, null);
            return Refuse(MembershipError.DuplicateId, existing.Id == candidate.Id
                ? $"'{r.Key}' is already a member at {existing.Endpoint}"
                : $"'{r.Key}' collides with member '{existing.Id}' (same node id); choose another id");
        }
        if (_members.Members.FirstOrDefault(m => m.Endpoint == candidate.Endpoint) is { } sameAddress)
            return Refuse(MembershipError.DuplicateAddress, $"{candidate.Endpoint} is already member '{sameAddress.Id}'");
        if (_raft.ConfChangePending || _raft.Config.Voters.IsJoint)
            return Refuse(MembershipError.ChangeInProgress, "another configuration change is in progress; retry when it has applied");
        // Thesis §4.2.1: a new server joins as a learner and becomes a voter only once it has caught up.
        var cs = _raft.Config.ToConfState();
        var target = cs with { Learners = cs.Learners.Append(candidate.NodeId).Order().ToArray(), Context = _members.WithMember(candidate, promote: !r.AsLearner).Encode() };
        return (target, MembershipError.None, null);
    }

    private (ConfState?, MembershipError, string?) PlanRemove(ClientRequest r)
    {
        var member = _members.Find(r.Key);
        if (member is null)
        {
            if (_members.Removed.Contains(r.Key)) return (null, MembershipError.None, null);
            return Refuse(MembershipError.UnknownMember, $"'{r.Key}' is not a member (members: {string.Join(", ", _members.Members.Select(m => m.Id))})");
        }
        if (_raft.ConfChangePending || _raft.Config.Voters.IsJoint)
            return Refuse(MembershipError.ChangeInProgress, "another configuration change is in progress; retry when it has applied");
        var cs = _raft.Config.ToConfState();
        var voters = cs.Voters.Where(id => id != member.NodeId).ToArray();
        if (voters.Length == 0) return Refuse(MembershipError.WouldLoseQuorum, "cannot remove the last voter");
        var target = cs with
        {
            Voters = voters, Learners = cs.Learners.Where(id => id != member.NodeId).ToArray(), Context = _members.WithoutMember(member.Id).Encode(),
        };
        if (!r.Force && !MembershipPlanner.KeepsQuorum(target, _self.NodeId, _raft.Progress, _raft.Log.LastIndex, _options.PromotionMaxLag, _raft.HeardFromRecently))
            return Refuse(MembershipError.WouldLoseQuorum, $"removing '{r.Key}' would leave fewer reachable, caught-up voters than a quorum; use force to do it anyway");
        return (target, MembershipError.None, null);
    }

    private (ConfState?, MembershipError, string?) PlanPromote(ClientRequest r)
    {
        var member = _members.Find(r.Key);
        if (member is null) return Refuse(MembershipError.UnknownMember, $"'{r.Key}' is not a member");
        if (_raft.Config.IsVoter(member.NodeId)) return (null, MembershipError.None, null);
        if (_raft.ConfChangePending || _raft.Config.Voters.IsJoint)
            return Refuse(MembershipError.ChangeInProgress, "another configuration change is in progress; retry when it has applied");
        if (!r.Force && !MembershipPlanner.IsCaughtUp(_raft.Progress.GetValueOrDefault(member.NodeId), _raft.Log.LastIndex, _options.PromotionMaxLag))
        {
            var pr = _raft.Progress.GetValueOrDefault(member.NodeId);
            return Refuse(MembershipError.LearnerBehind,
                $"'{r.Key}' has not caught up yet (it acknowledged index {pr?.Match ?? 0} of {_raft.Log.LastIndex}; promotion needs an " +
                $"acknowledgement in this term within {_options.PromotionMaxLag} entries); wait for it to catch up or use force");
        }
        var cs = _raft.Config.ToConfState();
        var target = cs with
        {
            Voters = cs.Voters.Append(member.NodeId).Order().ToArray(), Learners = cs.Learners.Where(id => id != member.NodeId).ToArray(),
            Context = _members.WithoutPromotion([member.Id]).Encode(),
        };
        if (!r.Force && !MembershipPlanner.KeepsQuorum(target, _self.NodeId, _raft.Progress, _raft.Log.LastIndex, _options.PromotionMaxLag, _raft.HeardFromRecently))
            return Refuse(MembershipError.WouldLoseQuorum, $"promoting '{r.Key}' would leave fewer reachable, caught-up voters than a quorum");
        return (target, MembershipError.None, null);
    }

    /// <summary>Members as this node sees them; on the leader with match index, lag and reachability.</summary>
    private MemberInfo[] DescribeMembers()
    {
        var config = _raft.Config;
        bool leader = _raft.Role == Role.Leader;
        var last = _raft.Log.LastIndex;
        return _members.Members.Select(m =>
        {
            var role = config.Voters.Incoming.Contains(m.NodeId) ? MemberRoles.Voter
                : config.Voters.Outgoing.Contains(m.NodeId) ? MemberRoles.OutgoingVoter
                : _members.PromoteWhenCaughtUp.Contains(m.Id) ? MemberRoles.Joining : MemberRoles.Learner;
            var info = new MemberInfo(m.Id, m.Host, m.Port, config.IsVoter(m.NodeId)) { Role = role };
            if (!leader) return info;
            if (m.NodeId == _self.NodeId) return info with { Match = last, Reachable = true };
            var pr = _raft.Progress.GetValueOrDefault(m.NodeId);
            return pr is null ? info : info with { Match = pr.Match, Lag = last > pr.Match ? last - pr.Match : 0, Reachable = _raft.HeardFromRecently(m.NodeId) };
        }).ToArray();
    }
}
