namespace RaftPS.Consensus;

/// <summary>
/// The Raft protocol as a deterministic state machine, shaped after etcd-io/raft. Feed it <see cref="Tick"/>,
/// <see cref="Step"/>, <see cref="Propose(byte[])"/>, <see cref="ReadIndex"/> and <see cref="TransferLeadership"/>; then
/// collect <see cref="GetReady"/>, do what it says (persist first), and call <see cref="Advance"/>. It owns no sockets,
/// files, clocks, threads or randomness: time is <see cref="Tick"/>, randomness comes from <see cref="RaftOptions.Random"/>.
/// Not thread-safe: one owner (an event loop) drives it.
/// </summary>
public sealed partial class Raft
{
    /// <summary>Vote context marking a campaign forced by leadership transfer; such votes bypass the leader lease (thesis §3.10).</summary>
    internal static readonly byte[] TransferContext = "transfer"u8.ToArray();

    private readonly RaftOptions _options;
    private readonly IRandomSource _random;
    private readonly Dictionary<ulong, Progress> _progress = new();
    private readonly Dictionary<ulong, bool> _votes = new();
    private readonly List<Message> _messages = new();
    private readonly List<ReadState> _readStates = new();
    private readonly ReadOnlyQueue _readOnly = new();
    private readonly List<byte[]> _pendingReadIndex = new();
    // Configuration entries in the log after the snapshot, in index order: the latest one is in force even before it
    // commits (thesis §4.1), and truncating it reverts to the previous one.
    private readonly List<(ulong Index, ConfState Conf)> _confEntries = new();

    private ConfState _snapshotConf;
    private Snapshot? _snapshot;
    private HardState _prevHardState;
    private int _electionElapsed;
    private int _heartbeatElapsed;
    private int _transferElapsed;
    private int _randomizedElectionTimeout;
    private long _tickCount;
    // Leader: index of the latest configuration entry; no new change until it is applied (thesis §4.1).
    private ulong _pendingConfIndex;

    public Raft(RaftOptions options, RecoveredLog recovered, ConfState bootstrap)
    {
        options.Validate();
        _options = options;
        _random = options.Random;
        Id = options.Id;
        var snapIndex = recovered.Snapshot?.Index ?? 0;
        var snapTerm = recovered.Snapshot?.Term ?? 0;
        Log = new RaftLog(snapIndex, snapTerm);
        _snapshot = recovered.Snapshot;
        _snapshotConf = recovered.Snapshot?.Metadata.ConfState ?? bootstrap;
        Log.LoadStable(recovered.Entries.Where(e => e.Index > snapIndex).ToList());
        foreach (var e in recovered.Entries)
            if (e.Index > snapIndex && e.Type == EntryType.ConfChange) _confEntries.Add((e.Index, ConfStateCodec.Decode(e.Data)));
        Config = Configuration.FromConfState(CurrentConfState());
        var hs = recovered.HardState;
        Log.SetCommittedFromStorage(hs.Commit);
        Term = hs.Term;
        Vote = hs.Vote;
        _prevHardState = hs;
        BecomeFollower(Term, 0);
    }

    public ulong Id { get; }
    public ulong Term { get; private set; }
    /// <summary>Candidate voted for in the current term, 0 if none.</summary>
    public ulong Vote { get; private set; }
    /// <summary>Leader known for the current term, 0 if none.</summary>
    public ulong Lead { get; private set; }
    public Role Role { get; private set; }
    public RaftLog Log { get; }
    public Configuration Config { get; private set; }
    public ulong LeadTransferee { get; private set; }
    public HardState HardState => new(Term, Vote, Log.Committed);
    /// <summary>The latest snapshot known to the core (recovered, compacted into, or received), if any.</summary>
    public Snapshot? Snapshot => _snapshot;
    public IReadOnlyDictionary<ulong, Progress> Progress => _progress;
    /// <summary>Leader only: <paramref name="id"/> answered within the last election timeout (this node itself counts).</summary>
    public bool HeardFromRecently(ulong id) =>
        id == Id || (Role == Role.Leader && _progress.TryGetValue(id, out var pr) && _tickCount - pr.LastHeardTick < ElectionTimeout);
    /// <summary>
    /// Leader only: a configuration entry (or this term's no-op) is not applied yet, so <see cref="ProposeConfChange"/>
    /// would refuse a new change (thesis §4.1; Ongaro, raft-dev 2015).
    /// </summary>
    public bool ConfChangePending => Role == Role.Leader && _pendingConfIndex > Log.Applied;
    /// <summary>Leader only: a configuration entry (not just this term's no-op) is appended but not yet applied.</summary>
    public bool ConfEntryPending => ConfChangePending && Log.At(_pendingConfIndex).Type == EntryType.ConfChange;
    /// <summary>Leader only: index of the configuration entry (or no-op) that must apply before the next change.</summary>
    public ulong PendingConfIndex => Role == Role.Leader ? _pendingConfIndex : 0;

    /// <summary>
    /// Whether this node may campaign: voters of the latest configuration can; learners and removed servers cannot, so they
    /// never disrupt. One exception (thesis §4.2.2, §4.2.3): a server whose removal is appended but not yet committed still
    /// campaigns, counted by the new configuration — it may hold the only copy of that configuration, and refusing to both
    /// vote for shorter logs and to stand itself would block every election.
    /// </summary>
    private bool Promotable
    {
        get
        {
            if (Config.IsVoter(Id)) return true;
            if (_confEntries.Count == 0) return false;
            var latest = _confEntries[^1].Index;
            return latest > Log.Committed && Configuration.FromConfState(ConfStateAt(latest - 1)).IsVoter(Id);
        }
    }

    private int ElectionTimeout => _options.ElectionTicks;

    // ---------------------------------------------------------------- inputs

    /// <summary>Advances logical time by one tick.</summary>
    public void Tick()
    {
        _tickCount++;
        if (Role == Role.Leader) TickHeartbeat();
        else TickElection();
    }

    /// <summary>Proposes one command. Returns its log index, or 0 if dropped (not leader, or a transfer is under way).</summary>
    public ulong Propose(byte[] command) => Propose([command]);

    /// <summary>Proposes a batch of commands, replicated together. Returns the index of the first, or 0 if dropped.</summary>
    public ulong Propose(IReadOnlyList<byte[]> commands)
    {
        if (Role != Role.Leader || LeadTransferee != 0 || commands.Count == 0) return 0;
        var first = Log.LastIndex + 1;
        var entries = new Entry[commands.Count];
        for (int i = 0; i < commands.Count; i++) entries[i] = new Entry(Term, first + (ulong)i, EntryType.Normal, commands[i]);
        AppendAsLeader(entries);
        BroadcastAppend();
        return first;
    }

    /// <summary>
    /// Requests a linearizable read (thesis §6.4). Returns false when not leader. The read becomes a <see cref="ReadState"/>
    /// once leadership is confirmed by a heartbeat round to a quorum; one call may cover many client reads (batch them).
    /// </summary>
    public bool ReadIndex(byte[] context)
    {
        if (Role != Role.Leader) return false;
        if (Config.Voters.Vote(id => id == Id ? true : null) == VoteResult.Won)
        {
            // A single voter is its own quorum.
            _readStates.Add(new ReadState(Log.Committed, context));
            return true;
        }
        if (!CommittedEntryInCurrentTerm())
        {
            // Thesis §6.4: the leader's commit index is only known to be current once it has committed an entry of its
            // own term (the no-op); hold the read until then.
            _pendingReadIndex.Add(context);
            return true;
        }
        StartReadIndex(context);
        return true;
    }

    /// <summary>Hands leadership to <paramref name="to"/> (thesis §3.10). Returns false if not leader or not a voter.</summary>
    public bool TransferLeadership(ulong to)
    {
        if (Role != Role.Leader || to == Id || !Config.IsVoter(to) || !_progress.TryGetValue(to, out var pr)) return false;
        if (LeadTransferee == to) return true;
        LeadTransferee = to;
        // The transfer must finish within an election timeout or it is abandoned (TickHeartbeat). It has its own clock:
        // resetting the CheckQuorum clock would let repeated transfer requests keep a cut-off leader in office.
        _transferElapsed = 0;
        if (pr.Match == Log.LastIndex) SendTimeoutNow(to);
        else SendAppend(to);
        return true;
    }

    /// <summary>
    /// Proposes a new configuration (thesis §4). Returns its index, or 0 if the change is not allowed now. Allowed changes:
    /// from a simple configuration either at most one voter added or removed (single-server change, thesis §4.1) or any
    /// change through a joint configuration (paper §6); from a joint configuration only leaving it.
    /// </summary>
    public ulong ProposeConfChange(ConfState target)
    {
        if (Role != Role.Leader || LeadTransferee != 0) return 0;
        // One change at a time: the previous configuration entry must be applied first. A new leader's pending index
        // is its no-op, so it must commit an entry of its own term before changing membership (Ongaro, raft-dev 2015).
        if (_pendingConfIndex > Log.Applied) return 0;
        ValidateConfChange(Config, target);
        var index = Log.LastIndex + 1;
        AppendAsLeader([new Entry(Term, index, EntryType.ConfChange, ConfStateCodec.Encode(target))]);
        _pendingConfIndex = index;
        BroadcastAppend();
        return index;
    }

    /// <summary>
    /// Notes that the caller persisted a state machine snapshot at <paramref name="snapshot"/>.Index and drops log entries up
    /// to <paramref name="compactTo"/> (≤ the snapshot index; keeping a tail helps slightly lagging followers avoid a snapshot).
    /// </summary>
    public void Compact(Snapshot snapshot, ulong compactTo)
    {
        if (snapshot.Index > Log.Applied) throw new ArgumentException($"snapshot at {snapshot.Index} is beyond applied {Log.Applied}");
        if (compactTo > snapshot.Index) throw new ArgumentException("cannot compact beyond the snapshot");
        if (_snapshot is null || snapshot.Index > _snapshot.Index) _snapshot = snapshot;
        if (compactTo <= Log.SnapshotIndex) return;
        _snapshotConf = ConfStateAt(compactTo);
        _confEntries.RemoveAll(c => c.Index <= compactTo);
        Log.CompactTo(compactTo);
    }

    /// <summary>Configuration in force at <paramref name="index"/> (for the snapshot metadata the caller writes).</summary>
    public ConfState ConfStateAt(ulong index)
    {
        var conf = _snapshotConf;
        foreach (var (i, c) in _confEntries)
        {
            if (i > index) break;
            conf = c;
        }
        return conf;
    }

    // ---------------------------------------------------------------- output

    public bool HasReady() =>
        _messages.Count > 0 || _readStates.Count > 0 || Log.StableIndex < Log.LastIndex || Log.PendingSnapshot is not null ||
        Log.Applied < Log.Committed || !HardState.Equals(_prevHardState);

    /// <summary>Collects what the caller must do now. Call <see cref="Advance"/> after doing it.</summary>
    public Ready GetReady()
    {
        var hs = HardState;
        var changed = !hs.Equals(_prevHardState);
        var entries = Log.UnstableEntries();
        var ready = new Ready
        {
            HardState = changed ? hs : null,
            Entries = entries,
            Snapshot = Log.PendingSnapshot,
            CommittedEntries = Log.NextCommitted(_options.MaxCommittedSizePerReady),
            Messages = _messages.ToArray(),
            ReadStates = _readStates.ToArray(),
            MustSync = entries.Count > 0 || Log.PendingSnapshot is not null || hs.Term != _prevHardState.Term || hs.Vote != _prevHardState.Vote,
        };
        _messages.Clear();
        _readStates.Clear();
        return ready;
    }

    /// <summary>Acknowledges that everything in <paramref name="ready"/> was persisted, sent and applied.</summary>
    public void Advance(Ready ready)
    {
        if (ready.HardState is { } hs) _prevHardState = hs;
        if (ready.Snapshot is not null) Log.SnapshotHandedOut();
        if (ready.Entries.Count > 0)
        {
            var last = ready.Entries[^1];
            // Only if the log still holds exactly that entry (it cannot change between GetReady and Advance in
            // single-owner use, but stay safe).
            if (Log.MatchTerm(last.Index, last.Term)) Log.StableTo(last.Index);
        }
        if (ready.CommittedEntries.Count > 0)
        {
            Log.AppliedTo(ready.CommittedEntries[^1].Index);
            OnApplied();
        }
    }

    // ---------------------------------------------------------------- role changes

    private void Reset(ulong term)
    {
        if (Term != term)
        {
            Term = term;
            Vote = 0;
        }
        Lead = 0;
        _electionElapsed = 0;
        _heartbeatElapsed = 0;
        ResetRandomizedElectionTimeout();
        LeadTransferee = 0;
        _votes.Clear();
        _readOnly.Clear();
        _pendingReadIndex.Clear();
        _pendingConfIndex = 0;
        RebuildProgress(reset: true);
    }

    /// <summary>Brings the progress map in line with the configuration; returns the ids that were added.</summary>
    private List<ulong> RebuildProgress(bool reset)
    {
        var added = new List<ulong>();
        if (reset) _progress.Clear();
        foreach (var id in _progress.Keys.ToArray())
            if (!Config.IsMember(id)) _progress.Remove(id);
        foreach (var id in Config.AllIds)
        {
            if (_progress.TryGetValue(id, out var existing))
            {
                existing.IsLearner = !Config.IsVoter(id);
                continue;
            }
            var pr = new Progress(Log.LastIndex + 1, _options.MaxInflightMessages, !Config.IsVoter(id))
            {
                LastProgressTick = _tickCount,
                RecentActive = true,
            };
            if (id == Id) pr.Match = Log.LastIndex;
            _progress[id] = pr;
            added.Add(id);
        }
        return added;
    }

    private void ResetRandomizedElectionTimeout() =>
        _randomizedElectionTimeout = ElectionTimeout + _random.Next(ElectionTimeout);

    private void BecomeFollower(ulong term, ulong lead)
    {
        Reset(term);
        Lead = lead;
        Role = Role.Follower;
    }

    private void BecomePreCandidate()
    {
        if (Role == Role.Leader) throw new RaftInvariantException("leader cannot become pre-candidate");
        // PreVote (thesis §9.6) does not touch term or vote: a failed pre-election leaves no trace.
        _votes.Clear();
        Lead = 0;
        Role = Role.PreCandidate;
    }

    private void BecomeCandidate()
    {
        if (Role == Role.Leader) throw new RaftInvariantException("leader cannot become candidate");
        Reset(Term + 1);
        Vote = Id;
        Role = Role.Candidate;
    }

    private void BecomeLeader()
    {
        if (Role == Role.Follower) throw new RaftInvariantException("follower cannot become leader directly");
        Reset(Term);
        Lead = Id;
        Role = Role.Leader;
        foreach (var (id, pr) in _progress)
        {
            pr.RecentActive = true;
            if (id == Id) pr.BecomeReplicate();
        }
        // Paper §8 / thesis §6.4: a no-op of the new term lets earlier entries commit (they may only commit indirectly,
        // §5.4.2) and gives ReadIndex a current-term commit to anchor on. Until it is applied, no configuration change.
        var noop = new Entry(Term, Log.LastIndex + 1, EntryType.Noop, Entry.Empty);
        AppendAsLeader([noop]);
        _pendingConfIndex = noop.Index;
        BroadcastAppend();
    }

    // ---------------------------------------------------------------- ticks

    private void TickElection()
    {
        _electionElapsed++;
        if (Promotable && _electionElapsed >= _randomizedElectionTimeout)
        {
            _electionElapsed = 0;
            // Randomize again for every election, not once per process (paper §5.2).
            ResetRandomizedElectionTimeout();
            Step(new Message { Type = MessageType.Hup, From = Id });
        }
    }

    private void TickHeartbeat()
    {
        _heartbeatElapsed++;
        _electionElapsed++;
        if (LeadTransferee != 0 && ++_transferElapsed >= ElectionTimeout) LeadTransferee = 0; // transfer timed out
        if (_electionElapsed >= ElectionTimeout)
        {
            _electionElapsed = 0;
            if (_options.CheckQuorum)
            {
                // Thesis §6.2: a leader that has not heard from a quorum within an election timeout steps down, so a
                // partitioned leader stops serving and clients find the real one.
                if (!QuorumActive())
                {
                    BecomeFollower(Term, 0);
                    return;
                }
                foreach (var (id, pr) in _progress)
                    if (id != Id) pr.RecentActive = false;
            }
        }
        if (Role != Role.Leader) return;
        if (_heartbeatElapsed >= _options.HeartbeatTicks)
        {
            _heartbeatElapsed = 0;
            Step(new Message { Type = MessageType.Beat, From = Id });
        }
    }

    private bool QuorumActive() =>
        Config.Voters.Vote(id => id == Id || (_progress.TryGetValue(id, out var pr) && pr.RecentActive)) == VoteResult.Won;

    // ---------------------------------------------------------------- helpers

    private void Send(Message m) => _messages.Add(m with { From = Id, Term = m.Term == 0 ? Term : m.Term });

    private void AppendAsLeader(IReadOnlyList<Entry> entries)
    {
        Log.Append(entries);
        TrackConfEntries(entries);
        // A leader being removed keeps replicating but no longer counts itself (paper §6).
        if (_progress.TryGetValue(Id, out var self)) self.MaybeUpdate(Log.LastIndex);
        // A single-voter cluster commits as soon as it appends (the caller persists before applying).
        MaybeCommit();
    }

    private bool CommittedEntryInCurrentTerm() => Log.Term(Log.Committed) == Term;

    /// <summary>
    /// Advances the commit index to the highest index stored on a quorum — but only if that entry is of the current term
    /// (paper §5.4.2, Figure 8): entries of earlier terms are never committed by counting replicas; they commit
    /// indirectly once a current-term entry after them does.
    /// </summary>
    private bool MaybeCommit()
    {
        var index = Config.Voters.CommittedIndex(id => _progress.TryGetValue(id, out var pr) ? pr.Match : null);
        if (index <= Log.Committed) return false;
        if (Log.Term(index) != Term) return false;
        Log.CommitTo(index);
        OnCommitted();
        return true;
    }

    private void OnCommitted()
    {
        if (Role == Role.Leader && _pendingReadIndex.Count > 0 && CommittedEntryInCurrentTerm())
        {
            var pending = _pendingReadIndex.ToArray();
            _pendingReadIndex.Clear();
            foreach (var ctx in pending) StartReadIndex(ctx);
        }
    }

    private void OnApplied()
    {
        // Paper §6: a leader that is not part of the new configuration steps down once it is committed. We wait until it
        // is applied so the caller has seen the entry.
        if (Role == Role.Leader && !Config.IsVoter(Id) && (_confEntries.Count == 0 || _confEntries[^1].Index <= Log.Applied))
        {
            BecomeFollower(Term, 0);
        }
    }
}
