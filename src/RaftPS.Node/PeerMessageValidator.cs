using RaftPS.Consensus;

namespace RaftPS.Node;

/// <summary>
/// Decides whether a decoded peer message is one a correct peer could have sent, before the consensus core sees it.
/// The transport already proved who sent it (peer key, configured address); this checks every field, so a buggy or
/// hostile member cannot crash the core with an impossible message: entries must be contiguous after (LogTerm, Index),
/// terms must not exceed the message's term, configuration entries and snapshot metadata must decode to valid
/// configurations, fields a type never uses must be empty. What remains able to stop a node is the deliberate
/// fail-stop of an authenticated leader proving this node lost acknowledged entries (a heartbeat commit beyond our log,
/// paper Fig. 2 / etcd's "was the raft log corrupted, truncated, or lost?").
/// Stateless checks (<see cref="Validate"/>) run on the receive thread; <see cref="FitsLocalLog"/> needs the core's
/// log and runs on the event loop.
/// </summary>
public static class PeerMessageValidator
{
    /// <summary>Largest context a peer sends: ReadIndex contexts and the transfer marker are a few bytes.</summary>
    public const int MaxContextBytes = 256;

    /// <summary>Null when <paramref name="m"/> is a well-formed message to <paramref name="self"/>; otherwise why not.</summary>
    public static string? Validate(Message m, ulong self)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.Type is MessageType.Hup or MessageType.Beat) return "local-only message type";
        if (m.Type is < MessageType.PreVote or > MessageType.TimeoutNow) return "unknown message type";
        if (m.From == 0 || m.From == self) return "bad sender";
        if (m.To != self) return "not addressed to this node";
        // Every message between peers carries the sender's term (or the term it campaigns for); 0 is "local".
        if (m.Term == 0) return "term 0";
        if (m.Context is { Length: > MaxContextBytes }) return "oversized context";
        if (m.Entries.Count > 0)
        {
            if (m.Type != MessageType.Append) return "entries on a message that never carries any";
            if (EntriesProblem(m) is { } why) return why;
        }
        if (m.Snapshot is { } s)
        {
            if (m.Type != MessageType.InstallSnapshot) return "snapshot on a message that never carries one";
            if (s.Index == 0 || s.Term == 0 || s.Term > m.Term) return "impossible snapshot index or term";
            if (ConfStateProblem(s.Metadata.ConfState) is { } why) return "snapshot configuration: " + why;
        }
        else if (m.Type == MessageType.InstallSnapshot) return "InstallSnapshot without a snapshot";
        if (m.Reject && m.Type is not (MessageType.AppendResponse or MessageType.VoteResponse or MessageType.PreVoteResponse))
            return "reject flag on a request";
        if (m.Type == MessageType.Append && m.LogTerm > m.Term) return "previous entry's term beyond the message term";
        if (m.Type is MessageType.Vote or MessageType.PreVote && m.LogTerm > m.Term) return "candidate's last term beyond its term";
        if (m.Type == MessageType.AppendResponse && m.Reject && m.RejectHint > m.Index) return "reject hint beyond the probed index";
        return null;
    }

    /// <summary>
    /// Checks that need the local log: an acknowledgement can only be for entries this node has (a leader sent them);
    /// a larger one would move a follower's progress past the leader's log. False drops the message.
    /// </summary>
    public static bool FitsLocalLog(Message m, ulong lastIndex) =>
        m.Type != MessageType.AppendResponse || m.Reject || m.Index <= lastIndex;

    private static string? EntriesProblem(Message m)
    {
        if (m.Index > ulong.MaxValue - (ulong)m.Entries.Count) return "entry indexes overflow";
        ulong previousTerm = m.LogTerm;
        for (int i = 0; i < m.Entries.Count; i++)
        {
            var e = m.Entries[i];
            // Log matching (paper §5.3): entries follow (LogTerm, Index) without gaps, terms never decrease along a log,
            // and no entry is from a term later than the leader's.
            if (e.Index != m.Index + 1 + (ulong)i) return "entries not contiguous after the previous index";
            if (e.Term == 0 || e.Term > m.Term || e.Term < previousTerm) return "impossible entry term";
            if (e.Type > EntryType.ConfChange) return "unknown entry type";
            if (e.Type == EntryType.ConfChange)
            {
                ConfState conf;
                try
                {
                    conf = ConfStateCodec.Decode(e.Data);
                }
                catch (ConfStateFormatException ex)
                {
                    return "undecodable configuration entry: " + ex.Message;
                }
                if (ConfStateProblem(conf) is { } why) return "configuration entry: " + why;
            }
            previousTerm = e.Term;
        }
        return null;
    }

    /// <summary>Null when <paramref name="c"/> is a configuration the core can adopt (thesis §4: at least one voter, no id twice).</summary>
    public static string? ConfStateProblem(ConfState c)
    {
        if (c.Voters.Count == 0) return "no voters";
        if (c.Voters.Contains(0UL) || c.Learners.Contains(0UL) || c.VotersOutgoing.Contains(0UL) || c.LearnersNext.Contains(0UL)) return "node id 0";
        if (HasDuplicates(c.Voters) || HasDuplicates(c.Learners) || HasDuplicates(c.VotersOutgoing) || HasDuplicates(c.LearnersNext)) return "a node listed twice";
        if (c.Voters.Any(c.Learners.Contains)) return "a node both voter and learner";
        if (c.VotersOutgoing.Count == 0 && (c.LearnersNext.Count > 0 || c.AutoLeave)) return "joint-only fields outside a joint configuration";
        return null;
    }

    private static bool HasDuplicates(IReadOnlyList<ulong> ids) => ids.Count > 1 && new HashSet<ulong>(ids).Count != ids.Count;
}
