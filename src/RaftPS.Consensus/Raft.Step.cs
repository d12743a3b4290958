namespace RaftPS.Consensus;

public sealed partial class Raft
{
    /// <summary>Feeds one message (from a peer, or a local Hup/Beat) into the state machine.</summary>
    public void Step(Message m)
    {
        if (m.Term == 0)
        {
            // local message
        }
        else if (m.Term > Term)
        {
            if (m.Type is MessageType.Vote or MessageType.PreVote)
            {
                bool force = m.Context is { } ctx && ctx.AsSpan().SequenceEqual(TransferContext);
                // Thesis §4.2.3 / §6.2: while we hear from a live leader, ignore requests to vote that would depose it.
                // This keeps removed servers and rejoining partitioned nodes from disrupting the cluster.
                bool inLease = (_options.CheckQuorum || _options.PreVote) && Lead != 0 && _electionElapsed < ElectionTimeout;
                if (!force && inLease) return;
            }
            if (m.Type == MessageType.PreVote)
            {
                // Never change our term in response to a PreVote (thesis §9.6).
            }
            else if (m.Type == MessageType.PreVoteResponse && !m.Reject)
            {
                // A granted pre-vote carries the term we *would* campaign in; it is not a real higher term.
            }
            else
            {
                // Paper §5.1: any higher term makes us a follower of that term.
                var lead = m.Type is MessageType.Append or MessageType.Heartbeat or MessageType.InstallSnapshot ? m.From : 0;
                BecomeFollower(m.Term, lead);
            }
        }
        else if (m.Term < Term)
        {
            if ((_options.CheckQuorum || _options.PreVote) && m.Type is MessageType.Append or MessageType.Heartbeat)
            {
                // A stale leader (e.g. after a partition) would otherwise never learn the new term, since with PreVote
                // we never campaign into its view; tell it so it steps down (thesis §9.6).
                Send(new Message { Type = MessageType.AppendResponse, To = m.From });
            }
            else if (m.Type == MessageType.PreVote)
            {
                Send(new Message { Type = MessageType.PreVoteResponse, To = m.From, Reject = true });
            }
            return;
        }

        switch (m.Type)
        {
            case MessageType.Hup:
                Hup();
                return;
            case MessageType.Vote:
            case MessageType.PreVote:
                HandleVoteRequest(m);
                return;
        }

        switch (Role)
        {
            case Role.Leader: StepLeader(m); break;
            case Role.Candidate:
            case Role.PreCandidate: StepCandidate(m); break;
            default: StepFollower(m); break;
        }
    }

    private void Hup()
    {
        if (Role == Role.Leader || !Promotable) return;
        if (_options.PreVote) Campaign(CampaignKind.PreElection);
        else Campaign(CampaignKind.Election);
    }

    private enum CampaignKind { PreElection, Election, Transfer }

    private void Campaign(CampaignKind kind)
    {
        if (!Promotable) return;
        ulong term;
        MessageType voteType;
        if (kind == CampaignKind.PreElection)
        {
            BecomePreCandidate();
            voteType = MessageType.PreVote;
            term = Term + 1;
        }
        else
        {
            BecomeCandidate();
            voteType = MessageType.Vote;
            term = Term;
        }
        if (Poll(Id, voteType, true) == VoteResult.Won)
        {
            // Single-voter cluster: we win immediately.
            if (kind == CampaignKind.PreElection) Campaign(CampaignKind.Election);
            else BecomeLeader();
            return;
        }
        foreach (var id in Config.Voters.Ids)
        {
            if (id == Id) continue;
            _messages.Add(new Message
            {
                Type = voteType, From = Id, To = id, Term = term, Index = Log.LastIndex, LogTerm = Log.LastTerm,
                Context = kind == CampaignKind.Transfer ? TransferContext : null,
            });
        }
    }

    private VoteResult Poll(ulong from, MessageType type, bool granted)
    {
        _votes.TryAdd(from, granted);
        return Config.Voters.Vote(id => _votes.TryGetValue(id, out var v) ? v : null);
    }

    private void HandleVoteRequest(Message m)
    {
        var respType = m.Type == MessageType.Vote ? MessageType.VoteResponse : MessageType.PreVoteResponse;
        // We can vote if we already voted for this candidate, or have not voted and know no leader in this term, or it is
        // a pre-vote for a future term (no vote is recorded for pre-votes).
        bool canVote = Vote == m.From || (Vote == 0 && Lead == 0) || (m.Type == MessageType.PreVote && m.Term > Term);
        // Paper §5.4.1: grant only if the candidate's log is at least as up to date as ours (last term, then last index).
        if (canVote && Log.IsUpToDate(m.Index, m.LogTerm))
        {
            // A pre-vote answer carries the candidate's proposed term so it can count it; a real vote has our term.
            _messages.Add(new Message { Type = respType, From = Id, To = m.From, Term = m.Term });
            if (m.Type == MessageType.Vote)
            {
                // Paper Fig. 2: votedFor is persistent; the caller persists this hard state before sending the reply.
                _electionElapsed = 0;
                Vote = m.From;
            }
        }
        else
        {
            _messages.Add(new Message { Type = respType, From = Id, To = m.From, Term = Term, Reject = true });
        }
    }

    // ---------------------------------------------------------------- leader

    private void StepLeader(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Beat:
                // Datagrams get lost: keep asking for the newest pending read until a quorum confirms it (and with it
                // every earlier one), as etcd does.
                BroadcastHeartbeat(_readOnly.LastContext);
                return;
        }
        if (!_progress.TryGetValue(m.From, out var pr)) return; // not a member (e.g. removed): ignore
        switch (m.Type)
        {
            case MessageType.AppendResponse:
                HandleAppendResponse(m, pr);
                break;
            case MessageType.HeartbeatResponse:
                HandleHeartbeatResponse(m, pr);
                break;
        }
    }

    private void HandleAppendResponse(Message m, Progress pr)
    {
        pr.RecentActive = true;
        pr.LastHeardTick = _tickCount;
        if (m.Reject)
        {
            // Paper §5.3 optimisation: the follower hints (index, term) of its last entry with term ≤ the probed term; skip
            // every leader entry of a higher term than that in one step.
            var nextProbe = m.RejectHint;
            if (m.LogTerm > 0) nextProbe = Log.FindConflictByTerm(m.RejectHint, m.LogTerm).Index;
            if (pr.MaybeDecrTo(m.Index, nextProbe))
            {
                if (pr.State == ProgressState.Replicate) pr.BecomeProbe();
                pr.LastProgressTick = _tickCount;
                SendAppend(m.From);
            }
            return;
        }
        var wasPaused = pr.IsPaused;
        if (!pr.MaybeUpdate(m.Index)) return;
        pr.LastProgressTick = _tickCount;
        switch (pr.State)
        {
            case ProgressState.Probe:
                pr.BecomeReplicate();
                break;
            case ProgressState.Snapshot when pr.Match >= pr.PendingSnapshot:
                pr.BecomeProbe();
                pr.BecomeReplicate();
                break;
            case ProgressState.Replicate:
                pr.Inflights.FreeLE(m.Index);
                break;
        }
        if (MaybeCommit())
        {
            // Let followers learn the new commit index promptly.
            BroadcastAppend(sendIfEmpty: true);
        }
        else if (wasPaused)
        {
            SendAppend(m.From);
        }
        // Keep the pipeline full.
        while (MaybeSendAppend(m.From, sendIfEmpty: false)) { }
        if (m.From == LeadTransferee && pr.Match == Log.LastIndex) SendTimeoutNow(m.From);
    }

    private void HandleHeartbeatResponse(Message m, Progress pr)
    {
        pr.RecentActive = true;
        pr.LastHeardTick = _tickCount;
        pr.ProbeSent = false;
        // Datagrams get lost: if the pipeline or a snapshot has made no progress for an election timeout, start probing again.
        // A snapshot is large and slow to ship: give it longer before sending it again.
        var patience = pr.State == ProgressState.Snapshot ? 4 * ElectionTimeout : ElectionTimeout;
        if (pr.State != ProgressState.Probe && pr.Match < Log.LastIndex && _tickCount - pr.LastProgressTick >= patience)
        {
            pr.BecomeProbe();
            pr.LastProgressTick = _tickCount;
        }
        if (pr.Match < Log.LastIndex) SendAppend(m.From);
        // A lost TimeoutNow would leave the transfer (and refused proposals) hanging until it times out: resend it.
        else if (m.From == LeadTransferee) SendTimeoutNow(m.From);
        if (m.Context is { Length: > 0 } ctx)
        {
            var released = _readOnly.Ack(m.From, ctx, acks => Config.Voters.Vote(id => id == Id || acks.Contains(id)) == VoteResult.Won);
            foreach (var rs in released) _readStates.Add(rs);
        }
    }

    private void StartReadIndex(byte[] context)
    {
        _readOnly.Add(Log.Committed, context);
        BroadcastHeartbeat(context);
    }

    private void SendAppend(ulong to) => MaybeSendAppend(to, sendIfEmpty: true);

    /// <summary>Sends entries (or a snapshot) to <paramref name="to"/> if flow control allows. Returns whether it sent.</summary>
    private bool MaybeSendAppend(ulong to, bool sendIfEmpty)
    {
        if (to == Id || !_progress.TryGetValue(to, out var pr) || pr.IsPaused) return false;
        var prevIndex = pr.Next - 1;
        var prevTerm = Log.Term(prevIndex);
        if (prevTerm is null)
        {
            // The entries this follower needs were compacted: send the snapshot (paper §7).
            if (_snapshot is null || !pr.RecentActive) return false;
            _messages.Add(new Message { Type = MessageType.InstallSnapshot, From = Id, To = to, Term = Term, Snapshot = _snapshot });
            pr.BecomeSnapshot(_snapshot.Index);
            pr.LastProgressTick = _tickCount;
            return true;
        }
        var entries = pr.Next <= Log.LastIndex ? Log.Slice(pr.Next, Log.LastIndex + 1, _options.MaxSizePerMessage) : [];
        if (entries.Count == 0 && !sendIfEmpty) return false;
        _messages.Add(new Message
        {
            Type = MessageType.Append, From = Id, To = to, Term = Term, Index = prevIndex, LogTerm = prevTerm.Value,
            Entries = entries, Commit = Log.Committed,
        });
        pr.SentEntries(entries.Count, entries.Count > 0 ? entries[^1].Index : prevIndex);
        return true;
    }

    private void BroadcastAppend(bool sendIfEmpty = false)
    {
        foreach (var id in _progress.Keys)
        {
            if (id == Id) continue;
            if (sendIfEmpty) SendAppend(id);
            else MaybeSendAppend(id, sendIfEmpty: false);
        }
    }

    private void BroadcastHeartbeat(byte[]? context)
    {
        foreach (var (id, pr) in _progress)
        {
            if (id == Id) continue;
            // Heartbeats carry commit only up to what the follower is known to match, so a follower never commits
            // entries it has not verified against the leader (paper §5.3).
            _messages.Add(new Message
            {
                Type = MessageType.Heartbeat, From = Id, To = id, Term = Term,
                Commit = Math.Min(pr.Match, Log.Committed), Context = context,
            });
        }
    }

    private void SendTimeoutNow(ulong to) =>
        _messages.Add(new Message { Type = MessageType.TimeoutNow, From = Id, To = to, Term = Term });

    // ---------------------------------------------------------------- candidate / follower

    private void StepCandidate(Message m)
    {
        var myVoteResponse = Role == Role.PreCandidate ? MessageType.PreVoteResponse : MessageType.VoteResponse;
        switch (m.Type)
        {
            case MessageType.Append:
                BecomeFollower(m.Term, m.From); // a leader exists in our term
                HandleAppend(m);
                break;
            case MessageType.Heartbeat:
                BecomeFollower(m.Term, m.From);
                HandleHeartbeat(m);
                break;
            case MessageType.InstallSnapshot:
                BecomeFollower(m.Term, m.From);
                HandleSnapshot(m);
                break;
            case var t when t == myVoteResponse:
                switch (Poll(m.From, m.Type, !m.Reject))
                {
                    case VoteResult.Won:
                        if (Role == Role.PreCandidate) Campaign(CampaignKind.Election);
                        else
                        {
                            BecomeLeader();
                        }
                        break;
                    case VoteResult.Lost:
                        BecomeFollower(Term, 0);
                        break;
                }
                break;
        }
    }

    private void StepFollower(Message m)
    {
        switch (m.Type)
        {
            case MessageType.Append:
                _electionElapsed = 0;
                Lead = m.From;
                HandleAppend(m);
                break;
            case MessageType.Heartbeat:
                _electionElapsed = 0;
                Lead = m.From;
                HandleHeartbeat(m);
                break;
            case MessageType.InstallSnapshot:
                _electionElapsed = 0;
                Lead = m.From;
                HandleSnapshot(m);
                break;
            case MessageType.TimeoutNow:
                // Thesis §3.10: the leader asks us to start an election at once, bypassing PreVote and leases.
                Campaign(CampaignKind.Transfer);
                break;
        }
    }

    private void HandleAppend(Message m)
    {
        if (m.Index < Log.Committed)
        {
            // Everything up to our commit index is known to match; tell the leader where we are.
            _messages.Add(new Message { Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = Log.Committed });
            return;
        }
        var lastNew = Log.MaybeAppend(m.Index, m.LogTerm, m.Entries);
        if (lastNew is { } verified)
        {
            OnFollowerLogChanged(m.Index, m.Entries.Count);
            // Paper Fig. 2 receiver step 5: commit = min(leaderCommit, index of last new entry) — only entries verified to
            // match the leader by this very request.
            Log.CommitTo(Math.Min(m.Commit, verified));
            _messages.Add(new Message { Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = verified });
            return;
        }
        // Reject with a hint for fast backtracking (paper §5.3): our last index ≤ the probed one whose term ≤ the probed term.
        var (hintIndex, hintTerm) = Log.FindConflictByTerm(Math.Min(m.Index, Log.LastIndex), m.LogTerm);
        _messages.Add(new Message
        {
            Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = m.Index, Reject = true,
            RejectHint = hintIndex, LogTerm = hintTerm,
        });
    }

    private void HandleHeartbeat(Message m)
    {
        // The leader sends commit ≤ the match index we acknowledged, so this never commits an unverified entry. A commit
        // beyond our log means entries we acknowledged as durable are gone (a disk that lied about fsync): stop rather than
        // carry on as a member that silently lost data (etcd does the same).
        if (m.Commit > Log.LastIndex)
            throw new RaftInvariantException(
                $"leader {m.From} reports commit {m.Commit} for us but our log ends at {Log.LastIndex}: entries this node acknowledged were lost from its storage");
        Log.CommitTo(m.Commit);
        _messages.Add(new Message { Type = MessageType.HeartbeatResponse, From = Id, To = m.From, Term = Term, Context = m.Context });
    }

    private void HandleSnapshot(Message m)
    {
        var s = m.Snapshot ?? throw new RaftInvariantException("InstallSnapshot without a snapshot");
        if (s.Index <= Log.Committed)
        {
            _messages.Add(new Message { Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = Log.Committed });
            return;
        }
        if (Log.MatchTerm(s.Index, s.Term))
        {
            // Paper Fig. 13 step 6: our log already has the snapshot's last entry; keep the entries after it.
            Log.CommitTo(s.Index);
            _messages.Add(new Message { Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = Log.Committed });
            return;
        }
        // Fig. 13 step 7: discard the whole log and take the snapshot, configuration included (thesis §5.1).
        Log.Restore(s);
        _snapshot = s;
        _snapshotConf = s.Metadata.ConfState;
        _confEntries.Clear();
        ApplyConfig(CurrentConfState());
        _messages.Add(new Message { Type = MessageType.AppendResponse, From = Id, To = m.From, Term = Term, Index = Log.LastIndex });
    }

    // ---------------------------------------------------------------- configuration

    private ConfState CurrentConfState() => _confEntries.Count > 0 ? _confEntries[^1].Conf : _snapshotConf;

    /// <summary>Records configuration entries as they are appended: they take effect immediately (thesis §4.1).</summary>
    private void TrackConfEntries(IReadOnlyList<Entry> entries)
    {
        bool changed = false;
        foreach (var e in entries)
        {
            if (e.Type != EntryType.ConfChange) continue;
            _confEntries.Add((e.Index, ConfStateCodec.Decode(e.Data)));
            changed = true;
        }
        if (changed) ApplyConfig(CurrentConfState());
    }

    /// <summary>After a follower append: drop configurations whose entries were truncated, add new ones.</summary>
    private void OnFollowerLogChanged(ulong prevIndex, int count)
    {
        bool changed = false;
        for (int i = _confEntries.Count - 1; i >= 0; i--)
        {
            var idx = _confEntries[i].Index;
            if (idx > Log.LastIndex || Log.At(idx).Type != EntryType.ConfChange)
            {
                _confEntries.RemoveAt(i);
                changed = true;
            }
        }
        // Rescan only the region this append covered: entries after it are unchanged (a truncation would have removed them).
        var from = Math.Max(prevIndex + 1, Log.FirstIndex);
        var to = Math.Min(prevIndex + (ulong)count, Log.LastIndex);
        for (var i = from; i <= to; i++)
        {
            var e = Log.At(i);
            if (e.Type != EntryType.ConfChange) continue;
            var pos = _confEntries.FindIndex(c => c.Index == i);
            // ConfState compares its lists by reference, so compare the encoded form: a re-sent identical entry is no change.
            if (pos >= 0 && ConfStateCodec.Encode(_confEntries[pos].Conf).AsSpan().SequenceEqual(e.Data)) continue;
            var conf = ConfStateCodec.Decode(e.Data);
            if (pos >= 0)
            {
                _confEntries[pos] = (i, conf);
            }
            else
            {
                _confEntries.Add((i, conf));
                _confEntries.Sort((a, b) => a.Index.CompareTo(b.Index));
            }
            changed = true;
        }
        if (changed) ApplyConfig(CurrentConfState());
    }

    private void ApplyConfig(ConfState cs)
    {
        Config = Configuration.FromConfState(cs);
        var added = RebuildProgress(reset: false);
        if (Role == Role.Leader)
        {
            // New members start probing at once; commit may move now that the quorum changed.
            foreach (var id in added) SendAppend(id);
            MaybeCommit();
        }
    }

    internal static void ValidateConfChange(Configuration current, ConfState target)
    {
        var next = Configuration.FromConfState(target); // validates structure
        if (next.Voters.Incoming.Count == 0) throw new ArgumentException("a configuration needs at least one voter");
        if (current.Voters.IsJoint)
        {
            // Only leaving the joint configuration is allowed: C_new must be the incoming half (paper §6).
            if (next.Voters.IsJoint || !next.Voters.Incoming.Ids.SequenceEqual(current.Voters.Incoming.Ids))
                throw new ArgumentException("in a joint configuration the only change allowed is leaving it for the incoming voters");
            return;
        }
        if (next.Voters.IsJoint)
        {
            if (!next.Voters.Outgoing.Ids.SequenceEqual(current.Voters.Incoming.Ids))
                throw new ArgumentException("a joint configuration's outgoing voters must be the current voters");
            return;
        }
        var diff = current.Voters.Incoming.Ids.Except(next.Voters.Incoming.Ids).Count() +
                   next.Voters.Incoming.Ids.Except(current.Voters.Incoming.Ids).Count();
        if (diff > 1)
            throw new ArgumentException("changing more than one voter at a time requires a joint configuration (thesis §4.1)");
    }
}
