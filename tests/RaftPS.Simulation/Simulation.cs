using RaftPS.Consensus;
using RaftPS.History;

namespace RaftPS.Simulation;

/// <summary>Deliberate rule-breaking in the driver, to prove the checks have teeth.</summary>
public enum SimMutation
{
    None,
    /// <summary>Send messages before the hard state (vote) is durable, and sometimes crash in between (breaks paper Fig. 2).</summary>
    SendBeforePersist,
}

public sealed record SimOptions
{
    public int Nodes { get; init; } = 3;
    public int Seed { get; init; } = 1;
    /// <summary>Ticks with faults, then ticks with a healed network in which liveness must be reached.</summary>
    public int FaultTicks { get; init; } = 400;
    public int HealTicks { get; init; } = 250;
    /// <summary>After healing, every client must finish its operation and the cluster converge within this many ticks.</summary>
    public int LivenessTicks { get; init; } = 200;
    public int Clients { get; init; } = 4;
    public int Keys { get; init; } = 5;
    public SimMutation Mutation { get; init; }
    /// <summary>Also change membership while faults run: single-server changes, joint consensus, learners, removing the leader.</summary>
    public bool Membership { get; init; }
    /// <summary>
    /// With <see cref="Membership"/>: extra servers that start with no configuration at all (a node started with
    /// --join), outside the founding voters, until a configuration change adds them.
    /// </summary>
    public int Joiners { get; init; } = 1;
    public int TraceLines { get; init; } = 40;
}

public sealed class SimResult
{
    public int Seed { get; init; }
    public int Nodes { get; init; }
    public long Steps { get; set; }
    public int Operations { get; set; }
    public int Elections { get; set; }
    public int Crashes { get; set; }
    public int SnapshotsSent { get; set; }
    public int ConfChanges { get; set; }
    public int Pauses { get; set; }
    public int Figure8Crashes { get; set; }
    /// <summary>Reads answered by a node whose term was already behind the newest term in the cluster: the checker sees
    /// these, so a deposed leader serving stale data is caught.</summary>
    public int ReadsByDeposedLeader { get; set; }
    public string Schedule { get; set; } = "";
    public bool LinearizabilityTimedOut { get; set; }
    public List<string> Violations { get; } = new();
    public List<string> Trace { get; } = new();
    public bool Ok => Violations.Count == 0;
}

/// <summary>
/// One seeded run: N replicas of the real consensus core on a simulated network and simulated disks, with clients issuing
/// put/get/delete. Every random choice comes from one seed, so a failing seed replays exactly. Safety properties (paper
/// Fig. 3) are checked after every step; linearizability of the client history and liveness at the end.
/// </summary>
public sealed class Simulation
{
    private const int TickUnits = 10;     // simulated time units per tick
    private const int ElectionTicks = 10;

    private readonly SimOptions _o;
    private readonly Random _rng;
    private readonly SimResult _result;
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private readonly SimNode[] _nodes;
    private readonly SimClient[] _clients;
    private readonly Invariants _inv;
    private readonly DigestCheck _digests;
    private readonly Queue<string> _trace = new();
    private readonly List<KvOperation> _history = new();
    private long _now;
    private long _seq;
    private bool _stop;

    // network faults
    private double _dropRate, _dupRate;
    private int _maxDelay;
    private readonly HashSet<(ulong From, ulong To)> _cut = new();
    private bool _healed;
    private long _healStart;
    private long _readCtx;
    private int _maxMessageBytes, _maxInflight;
    private SimSchedule _schedule = new();
    // node -> time until which it is cut off from every peer (pause isolation, long-lived stale followers)
    private readonly Dictionary<ulong, long> _isolatedUntil = new();
    private readonly HashSet<(ulong Id, ulong Term)> _fig8Targeted = new();
    private ulong[] _lastMinority = [];

    public Simulation(SimOptions options)
    {
        _o = options;
        _rng = new Random(options.Seed);
        _result = new SimResult { Seed = options.Seed, Nodes = options.Nodes };
        _inv = new Invariants(_result.Violations);
        _digests = new DigestCheck(_result.Violations);
        var bootstrap = ConfState.Of(Enumerable.Range(1, options.Nodes).Select(i => (ulong)i).ToArray());
        int joiners = options.Membership ? options.Joiners : 0;
        _nodes = Enumerable.Range(1, options.Nodes).Select(i => new SimNode((ulong)i, bootstrap))
            .Concat(Enumerable.Range(options.Nodes + 1, joiners).Select(i => new SimNode((ulong)i, ConfState.Empty))).ToArray();
        _clients = Enumerable.Range(1, options.Clients).Select(i => new SimClient(i)).ToArray();
    }

    public static SimResult Run(SimOptions options) => new Simulation(options).Run();

    public SimResult Run()
    {
        _dropRate = _rng.NextDouble() * 0.2;
        _dupRate = _rng.NextDouble() * 0.1;
        _maxDelay = 2 + _rng.Next(25);
        _schedule = SimSchedule.Draw(_rng, _o.Clients);
        _result.Schedule = _schedule.ToString();
        // One-entry appends (size limit 1 byte) with a deep pipeline make partial acknowledgements and out-of-order
        // appends common: what exposes commit-rule and truncation mistakes (Figure 8).
        _maxMessageBytes = _schedule.Figure8 || _rng.Next(2) == 0 ? 1 : 64 << _rng.Next(5);
        _maxInflight = 1 + _rng.Next(_schedule.Figure8 ? 16 : 8);
        Trace($"seed {_o.Seed} nodes {_o.Nodes} drop {_dropRate:F2} dup {_dupRate:F2} delay<= {_maxDelay} msg<= {_maxMessageBytes}B inflight {_maxInflight}");
        Trace($"schedule: {_schedule}");
        foreach (var n in _nodes) n.TickPeriod = DrawTickPeriod();
        foreach (var c in _clients.Take(_schedule.PatientClients)) c.RetryTicks = 20 + _rng.Next(100);
        foreach (var n in _nodes)
        {
            Start(n);
            var phase = _rng.Next(TickUnits);
            Schedule(phase, () => TickLoop(n));
        }
        foreach (var c in _clients) Schedule(_rng.Next(5 * TickUnits), () => ClientNext(c));
        Schedule(0, FaultLoop);
        if (_schedule.Figure8) Schedule(_rng.Next(20 * TickUnits), Figure8Loop);
        if (_schedule.StaleFollowers) Schedule(_rng.Next(40 * TickUnits), StaleFollowerLoop);
        var faultEnd = (long)_o.FaultTicks * TickUnits;
        _healStart = faultEnd;
        Schedule(faultEnd, Heal);
        Schedule(faultEnd + (long)_o.LivenessTicks * TickUnits, CheckLiveness);
        var end = faultEnd + (long)_o.HealTicks * TickUnits;

        try
        {
            while (!_stop && _events.TryDequeue(out var action, out var when))
            {
                if (when.Time > end) break;
                _now = when.Time;
                action();
                _result.Steps++;
                _inv.CheckStep(_nodes);
                if (_result.Violations.Count > 0) break;
            }
            if (_result.Violations.Count == 0) CheckHistory();
        }
        catch (RaftInvariantException ex)
        {
            _result.Violations.Add($"core invariant broken at t={_now}: {ex.Message}");
        }
        catch (Exception ex)
        {
            _result.Violations.Add($"unexpected {ex.GetType().Name} at t={_now}: {ex.Message}\n{ex.StackTrace}");
        }
        _result.Operations = _history.Count;
        if (_result.Violations.Count > 0) _trace.Enqueue($"schedule: {_schedule}");
        _result.Trace.AddRange(_trace);
        return _result;
    }

    // ------------------------------------------------------------------ plumbing

    private void Schedule(long delay, Action a) => _events.Enqueue(a, (_now + delay, _seq++));

    private void Trace(string line)
    {
        _trace.Enqueue($"[{_now,6}] {line}");
        while (_trace.Count > _o.TraceLines) _trace.Dequeue();
    }

    private RaftOptions OptionsFor(SimNode n) => new()
    {
        Id = n.Id,
        ElectionTicks = ElectionTicks,
        HeartbeatTicks = 2,
        MaxInflightMessages = _maxInflight,
        // Small batches (down to one entry) make acknowledgements that cover only part of a leader's log common, which is
        // what exposes commit-rule mistakes (Figure 8).
        MaxSizePerMessage = _maxMessageBytes,
        // Derive each incarnation's randomness from the one seed so replays are exact.
        Random = new SeededRandom(_rng.Next()),
    };

    private void Start(SimNode n)
    {
        var disk = n.Disk;
        n.Raft = new Raft(OptionsFor(n), new RecoveredLog(disk.HardState, disk.Snapshot, disk.Entries.ToList()), n.Bootstrap);
        n.Kv = disk.Snapshot is { } s ? SimKv.Deserialize(s.Data) : new SimKv();
        n.Up = true;
        n.Incarnation++;
        n.WaitingWrites.Clear();
        n.WaitingReads.Clear();
        n.ReadyReads.Clear();
        _inv.OnRestart(n);
        _digests.OnSnapshot(n);
        Trace($"n{n.Id} start (term {disk.HardState.Term} vote {disk.HardState.Vote} commit {disk.HardState.Commit} entries {disk.Entries.Count} snap {disk.Snapshot?.Index ?? 0})");
        Process(n);
    }

    private void Crash(SimNode n, string why)
    {
        if (!n.Up) return;
        n.Up = false;
        n.Raft = null;
        n.PausedUntil = 0;
        n.Inbox.Clear();
        _result.Crashes++;
        Trace($"n{n.Id} crash ({why})");
    }

    private void TickLoop(SimNode n)
    {
        // Clock-rate skew: each node's ticks come at its own period.
        Schedule(n.TickPeriod, () => TickLoop(n));
        if (!n.Up) return;
        if (n.Paused) return; // a paused process does not notice time passing either
        n.Raft!.Tick();
        Process(n);
    }

    private int DrawTickPeriod() => _schedule.ClockSkew switch
    {
        SimSchedule.Skew.WithinLease => TickUnits - 2 + _rng.Next(5),
        SimSchedule.Skew.BeyondLease => 3 + _rng.Next(28),
        _ => TickUnits,
    };

    /// <summary>Freezes a node: no ticks, no processing; peer messages and client requests queue in its inbox.</summary>
    private void Pause(SimNode n, int ticks, string why)
    {
        if (!n.Up || n.Paused) return;
        n.PausedUntil = _now + (long)ticks * TickUnits;
        var epoch = ++n.PauseEpoch;
        _result.Pauses++;
        Trace($"n{n.Id} paused ({why}) until {n.PausedUntil}");
        Schedule((long)ticks * TickUnits, () => { if (n.PauseEpoch == epoch) Resume(n); });
    }

    /// <summary>A paused node wakes up and first handles everything that queued up while it was frozen, oldest first.</summary>
    private void Resume(SimNode n)
    {
        if (!n.Paused) return;
        n.PausedUntil = 0;
        var queued = n.Inbox.ToArray();
        n.Inbox.Clear();
        Trace($"n{n.Id} resumes with {queued.Length} queued messages/requests");
        foreach (var a in queued) a();
    }

    // ------------------------------------------------------------------ network

    private bool Linked(ulong from, ulong to) => !_cut.Contains((from, to)) && !Isolated(from) && !Isolated(to);

    private bool Isolated(ulong id) => _isolatedUntil.TryGetValue(id, out var until) && _now < until;

    private void Isolate(ulong id, long ticks, string why)
    {
        _isolatedUntil[id] = Math.Max(_now + ticks * TickUnits, _isolatedUntil.GetValueOrDefault(id));
        Trace($"n{id} cut off from all peers until {_isolatedUntil[id]} ({why})");
    }

    private void SendPeer(Message m)
    {
        if (!Linked(m.From, m.To)) return;
        if (!_healed && _rng.NextDouble() < _dropRate) return;
        int copies = !_healed && _rng.NextDouble() < _dupRate ? 2 : 1;
        for (int i = 0; i < copies; i++)
        {
            var delay = 1 + _rng.Next(_healed ? 3 : _maxDelay);
            // A datagram that arrives long after newer ones: a stale append or response.
            if (!_healed && _schedule.LateRate > 0 && _rng.NextDouble() < _schedule.LateRate) delay += (20 + _rng.Next(100)) * TickUnits;
            Schedule(delay, () => DeliverPeer(m));
        }
    }

    private void DeliverPeer(Message m)
    {
        var n = _nodes[m.To - 1];
        if (!n.Up) return;
        // A partition also drops what was in flight across it when it started.
        if (!Linked(m.From, m.To)) return;
        if (n.Paused)
        {
            n.Inbox.Add(() => DeliverPeer(m));
            return;
        }
        n.Raft!.Step(m);
        Process(n);
    }

    /// <summary>Client ↔ node datagrams: lossy and delayed like peer traffic, but not partitioned.</summary>
    private void SendClientLink(Action deliver)
    {
        if (!_healed && _rng.NextDouble() < _dropRate) return;
        Schedule(1 + _rng.Next(_healed ? 3 : _maxDelay), deliver);
    }

    // ------------------------------------------------------------------ the node driver (what RaftPS.Node does for real)

    private void Process(SimNode n)
    {
        for (int guard = 0; n.Up && n.Raft!.HasReady(); guard++)
        {
            if (guard > 1000) throw new RaftInvariantException($"n{n.Id}: Ready never drains");
            var raft = n.Raft!;
            var rd = raft.GetReady();
            var role = raft.Role;
            if (rd.Messages.Any(m => m.Type is MessageType.Vote or MessageType.PreVote)) _result.Elections++;

            if (_o.Mutation == SimMutation.SendBeforePersist)
            {
                // Broken driver: replies leave before the vote/entries are durable, then a crash loses them.
                foreach (var m in rd.Messages) SendPeer(m);
                if (rd.MustSync && !_healed && _rng.NextDouble() < 0.3)
                {
                    Crash(n, "mutation: crash after send, before persist");
                    return;
                }
                Persist(n, rd, rd.Entries.Count + 2);
            }
            else
            {
                // Like RaftServer: a leader whose term and vote are already durable sends its replication messages before
                // its own disk write (thesis §10.2.1); everything else waits for the write.
                var (early, afterPersist) = rd.SplitForEarlySend(role, n.Disk.HardState);
                foreach (var m in early) SendPeer(m);
                if (rd.MustSync && n.CrashOnNextWrite)
                {
                    // Crash between write and fsync: only a prefix of this batch's records reaches the disk, and
                    // nothing that depended on it was sent or acknowledged.
                    n.CrashOnNextWrite = false;
                    Persist(n, rd, _rng.Next(rd.Entries.Count + 2));
                    Crash(n, "torn write before fsync");
                    return;
                }
                Persist(n, rd, rd.Entries.Count + 2);
                _inv.OnPersisted(n, rd.Entries);
                foreach (var m in afterPersist) SendPeer(m);
                _result.SnapshotsSent += rd.Messages.Count(m => m.Type == MessageType.InstallSnapshot);
            }

            if (rd.Snapshot is { } snap)
            {
                n.Kv = SimKv.Deserialize(snap.Data);
                _inv.OnSnapshotInstalled(n, snap);
                _digests.OnSnapshot(n);
                Trace($"n{n.Id} installed snapshot {snap.Index}@{snap.Term}");
            }
            foreach (var e in rd.CommittedEntries)
            {
                Apply(n, e);
                _digests.OnApplied(n);
            }
            n.ReadyReads.AddRange(rd.ReadStates);
            raft.Advance(rd);
            ServeReads(n);
            if (raft.Role == Role.Leader && role != Role.Leader)
            {
                // A new leader whose log holds uncommitted entries before its no-op: the Figure 8 setting.
                n.OldTailLeaderTerm = raft.Log.Committed + 1 < raft.Log.LastIndex ? raft.Term : 0;
                if (_o.Membership && !_healed && _rng.Next(2) == 0)
                {
                    // An operator retrying a membership change right after a failover: the new leader is asked before
                    // its no-op commits, possibly with the previous leader's change still uncommitted in its log.
                    var term = raft.Term;
                    Schedule(_rng.Next(2 * TickUnits), () =>
                    {
                        if (n.Up && !n.Paused && n.Raft!.Role == Role.Leader && n.Raft.Term == term)
                            ChangeMembership(n, direct: n.Raft.Log.Term(n.Raft.Log.Committed) != term);
                    });
                }
            }
            if (_schedule.Figure8 && !_healed && role == Role.Leader && n.OldTailLeaderTerm == raft.Term &&
                rd.CommittedEntries.Count > 0 && _rng.Next(4) != 0)
            {
                // Figure 8: the leader is cut off and dies right after its commit index moved, before its next appends
                // (its no-op, with one-entry appends) reach the followers and before they learn of the commit.
                n.OldTailLeaderTerm = 0;
                var incarnation = n.Incarnation;
                Isolate(n.Id, 5 + _rng.Next(25), "figure 8: leader cut off right after committing");
                Schedule(_rng.Next(TickUnits), () =>
                {
                    if (n.Incarnation != incarnation || !n.Up) return;
                    _result.Figure8Crashes++;
                    Crash(n, "figure 8: leader dies right after committing");
                    Schedule((3 + _rng.Next(25)) * TickUnits, () => { if (!n.Up && !_healed) Start(n); });
                });
            }
            if (role != raft.Role || rd.HardState is { } h && h.Term != n.LastTracedTerm)
            {
                n.LastTracedTerm = raft.Term;
                Trace($"n{n.Id} {raft.Role} term {raft.Term} lead {raft.Lead} last {raft.Log.LastIndex} commit {raft.Log.Committed}");
            }
            MaybeCompact(n);
        }
    }

    /// <summary>Makes a Ready durable: snapshot, then entries (overwriting from their first index), then hard state; a torn
    /// write keeps only the first <paramref name="records"/> records.</summary>
    private static void Persist(SimNode n, Ready rd, int records)
    {
        var disk = n.Disk;
        int written = 0;
        if (rd.Snapshot is { } s)
        {
            if (written++ >= records) return;
            disk.Snapshot = s;
            disk.Entries.Clear();
        }
        foreach (var e in rd.Entries)
        {
            if (written++ >= records) return;
            var at = disk.Entries.FindIndex(x => x.Index >= e.Index);
            if (at >= 0) disk.Entries.RemoveRange(at, disk.Entries.Count - at);
            disk.Entries.Add(e);
        }
        if (rd.HardState is { } hs)
        {
            if (written >= records) return;
            disk.HardState = hs;
        }
    }

    private void Apply(SimNode n, Entry e)
    {
        _inv.OnApplied(n, e);
        if (e.Type != EntryType.Normal)
        {
            n.Kv.Skip(e.Index);
            return;
        }
        var cmd = SimCommand.Decode(e.Data);
        n.Kv.Apply(e.Index, cmd);
        if (n.WaitingWrites.Remove((cmd.Client, cmd.OpId), out var client))
        {
            var opId = cmd.OpId;
            var from = (int)n.Id - 1;
            SendClientLink(() => OnReply(client, opId, ok: true, value: null, hint: 0, from));
        }
    }

    private void ServeReads(SimNode n)
    {
        // A read is served once the state machine has applied up to the read index (thesis §6.4 step 4).
        for (int i = 0; i < n.ReadyReads.Count;)
        {
            var rs = n.ReadyReads[i];
            if (rs.Index > n.Kv.Applied) { i++; continue; }
            n.ReadyReads.RemoveAt(i);
            var key = Convert.ToHexString(rs.Context);
            if (!n.WaitingReads.Remove(key, out var reads)) continue;
            if (_nodes.Any(o => o.Up && o.Raft!.Term > n.Raft!.Term)) _result.ReadsByDeposedLeader++;
            var from = (int)n.Id - 1;
            foreach (var (client, opId, k) in reads)
            {
                var value = n.Kv.Get(k);
                SendClientLink(() => OnReply(client, opId, ok: true, value: value, hint: 0, from));
            }
        }
    }

    private void MaybeCompact(SimNode n)
    {
        var raft = n.Raft!;
        var applied = n.Kv.Applied;
        if (applied < raft.Log.SnapshotIndex + (ulong)_schedule.SnapshotEvery || applied != raft.Log.Applied) return;
        var snap = new Snapshot(new SnapshotMetadata(applied, raft.Log.Term(applied)!.Value, raft.ConfStateAt(applied)), n.Kv.Serialize());
        // Persist the snapshot first (atomically, like the real node), then drop the covered log prefix.
        n.Disk.Snapshot = snap;
        var compactTo = applied - Math.Min(applied, (ulong)_schedule.KeepAfterCompact);
        n.Disk.Entries.RemoveAll(e => e.Index <= compactTo);
        raft.Compact(snap, compactTo);
    }

    // ------------------------------------------------------------------ clients

    private void ClientNext(SimClient c)
    {
        if (_stop) return;
        if (_healed && _now > _healStart + (long)_o.LivenessTicks * TickUnits / 2) return; // let the cluster settle
        var kind = _rng.Next(10) switch { < 4 => KvOpKind.Put, < 8 => KvOpKind.Get, _ => KvOpKind.Delete };
        var key = "k" + _rng.Next(_o.Keys);
        c.OpId++;
        c.Current = new PendingOp(c.OpId, kind, key, kind == KvOpKind.Put ? $"v{c.Id}.{c.OpId}" : null, _now);
        c.Deadline = _now + 150 * TickUnits;
        // Clients remember the node that answered them last (as real clients cache the leader), so a paused or
        // partitioned old leader keeps receiving requests invoked after the rest of the cluster moved on.
        c.Target = c.Preferred >= 0 && _rng.Next(10) < 7 ? c.Preferred : _rng.Next(_nodes.Length);
        ClientSend(c);
    }

    private void ClientSend(SimClient c)
    {
        var op = c.Current!;
        var node = _nodes[c.Target];
        var attempt = ++c.Attempt;
        SendClientLink(() => OnRequest(node, c, op));
        // Retry elsewhere if no answer in time; patient clients wait long (their answer may come from a paused leader).
        var wait = c.RetryTicks > 0 && !_healed ? c.RetryTicks * TickUnits : 4 * TickUnits;
        Schedule(wait + _rng.Next(2 * TickUnits), () =>
        {
            if (c.Current != op || c.Attempt != attempt) return;
            if (_now >= c.Deadline && !_healed)
            {
                GiveUp(c);
                return;
            }
            c.Target = _rng.Next(_nodes.Length);
            ClientSend(c);
        });
    }

    private void GiveUp(SimClient c)
    {
        var op = c.Current!;
        // A write that timed out may still take effect later: its outcome is unknown, not failed.
        if (op.Kind != KvOpKind.Get)
            _history.Add(new KvOperation(c.Id, op.Kind, op.Key, op.Value, null, op.Call, long.MaxValue, false));
        c.Current = null;
        Schedule(1 + _rng.Next(TickUnits), () => ClientNext(c));
    }

    private void OnRequest(SimNode n, SimClient c, PendingOp op)
    {
        if (!n.Up) return; // lost; the client retries
        if (n.Paused)
        {
            // A frozen process's socket buffer keeps the request; it is handled when the process resumes.
            n.Inbox.Add(() => OnRequest(n, c, op));
            return;
        }
        var raft = n.Raft!;
        bool accepted;
        if (op.Kind == KvOpKind.Get)
        {
            var ctx = BitConverter.GetBytes(++_readCtx);
            accepted = raft.ReadIndex(ctx);
            if (accepted) n.WaitingReads[Convert.ToHexString(ctx)] = [(c, op.OpId, op.Key)];
        }
        else
        {
            accepted = raft.Propose(new SimCommand(c.Id, op.OpId, op.Kind, op.Key, op.Value).Encode()) != 0;
            if (accepted) n.WaitingWrites[(c.Id, op.OpId)] = c;
        }
        if (!accepted)
        {
            var hint = raft.Lead;
            var from = (int)n.Id - 1;
            SendClientLink(() => OnReply(c, op.OpId, ok: false, value: null, hint: hint, from));
        }
        Process(n);
    }

    private void OnReply(SimClient c, long opId, bool ok, string? value, ulong hint, int from)
    {
        var op = c.Current;
        if (op is null || op.OpId != opId) return; // late reply for an op already finished
        if (!ok)
        {
            c.Target = hint != 0 ? (int)hint - 1 : _rng.Next(_nodes.Length);
            c.Preferred = hint != 0 ? (int)hint - 1 : -1;
            Schedule(1 + _rng.Next(TickUnits), () => { if (c.Current == op) ClientSend(c); });
            return;
        }
        _history.Add(new KvOperation(c.Id, op.Kind, op.Key, op.Value, op.Kind == KvOpKind.Get ? value : null, op.Call, _now, true));
        c.Preferred = from;
        c.Current = null;
        Schedule(_rng.Next(3 * TickUnits), () => ClientNext(c));
    }

    // ------------------------------------------------------------------ faults

    private void FaultLoop()
    {
        if (_healed) return;
        Schedule(5 * TickUnits, FaultLoop);
        double r = _rng.NextDouble();
        var n = _nodes[_rng.Next(_nodes.Length)];
        var leader = _nodes.FirstOrDefault(x => x.Up && x.Raft!.Role == Role.Leader);
        if (r < 0.04) Crash(n, "kill");
        else if (r < 0.06) n.CrashOnNextWrite = true;
        else if (r < 0.09 && leader is not null)
        {
            // Leaders dying soon after taking office, with their log half replicated, is where commit rules break (Figure 8).
            if (_rng.Next(2) == 0) Crash(leader, "kill leader");
            else leader.CrashOnNextWrite = true;
        }
        else if (r < 0.23)
        {
            var down = _nodes.Where(x => !x.Up).ToArray();
            if (down.Length > 0) Start(down[_rng.Next(down.Length)]);
        }
        else if (r < 0.29) Repartition();
        else if (r < 0.32) Pause(n, _rng.Next(2, 30), "slow disk");
        else if (r < 0.38 && _o.Membership && leader is not null) ChangeMembership(leader);
        else if (r < 0.46 && _schedule.Pauses)
        {
            // GC pause / VM suspend, most often of the leader: the others elect and move on without it.
            var target = leader is not null && _rng.Next(4) != 0 ? leader : n;
            if (target.Paused || !target.Up) return;
            var ticks = 15 + _rng.Next(66);
            if (_schedule.PauseIsolates && target == leader) Isolate(target.Id, ticks + _rng.Next(16), "paused leader's network");
            Pause(target, ticks, target == leader ? "process pause of the leader" : "process pause");
        }
        else if (r < 0.49 && _schedule.ClockSkew == SimSchedule.Skew.BeyondLease)
        {
            n.TickPeriod = DrawTickPeriod();
            Trace($"n{n.Id} clock now ticks every {n.TickPeriod}");
        }
    }

    /// <summary>
    /// Figure 8 on purpose (paper §5.4.2): cut a leader off with a minority of followers so it appends entries that reach
    /// only them, then crash it; it comes back later, possibly to lead again in a later term with those entries. The
    /// minority partners keep a divergent tail and may stay cut off for long (stale followers).
    /// </summary>
    private void Figure8Loop()
    {
        if (_healed) return;
        Schedule((3 + _rng.Next(6)) * TickUnits, Figure8Loop);
        var leader = _nodes.FirstOrDefault(x => x.Up && !x.Paused && x.Raft!.Role == Role.Leader);
        if (leader is null || _rng.Next(2) == 0 || !_fig8Targeted.Add((leader.Id, leader.Raft!.Term))) return;
        var others = _nodes.Where(x => x != leader).OrderBy(_ => _rng.Next()).ToArray();
        var minority = others.Take(_rng.Next(_nodes.Length / 2)).Select(x => x.Id).ToArray();
        var group = minority.Append(leader.Id).ToHashSet();
        _cut.Clear();
        foreach (var a in group) foreach (var b in _nodes.Select(x => x.Id).Where(x => !group.Contains(x))) { _cut.Add((a, b)); _cut.Add((b, a)); }
        _lastMinority = minority;
        Trace($"figure 8: leader n{leader.Id} (term {leader.Raft.Term}) cut off with minority {{{string.Join(",", minority)}}}");
        // With membership changes, the entry that reaches only the minority is sometimes a configuration change; always
        // asked for while the leader's no-op is uncommitted (a correct leader refuses then: the 2015 single-server bug).
        bool noopPending = leader.Raft.Log.Term(leader.Raft.Log.Committed) != leader.Raft.Term;
        if (_o.Membership && (noopPending || _rng.Next(2) == 0)) ChangeMembership(leader, direct: noopPending);
        var incarnation = leader.Incarnation;
        Schedule((1 + _rng.Next(6)) * TickUnits, () =>
        {
            if (_healed || leader.Incarnation != incarnation || !leader.Up) return;
            _result.Figure8Crashes++;
            Crash(leader, "figure 8: leader dies after replicating to a minority");
            Schedule(_rng.Next(5) * TickUnits, () =>
            {
                if (_healed) return;
                _cut.Clear();
                Trace("figure 8: partition healed");
                if (_schedule.StaleFollowers && minority.Length > 0 && _rng.Next(2) == 0)
                    Isolate(minority[_rng.Next(minority.Length)], 40 + _rng.Next(110), "stale follower with a divergent tail");
            });
            Schedule((3 + _rng.Next(25)) * TickUnits, () => { if (!leader.Up && !_healed) Start(leader); });
        });
    }

    /// <summary>Long-lived stale followers: a node (often one holding a divergent tail) stays cut off while the others
    /// elect, commit and compact, then returns and must be brought back by truncation or a snapshot.</summary>
    private void StaleFollowerLoop()
    {
        if (_healed) return;
        Schedule((30 + _rng.Next(60)) * TickUnits, StaleFollowerLoop);
        if (_isolatedUntil.Values.Any(t => t > _now)) return;
        var pick = _lastMinority.Length > 0 && _rng.Next(2) == 0
            ? _lastMinority[_rng.Next(_lastMinority.Length)]
            : _nodes[_rng.Next(_nodes.Length)].Id;
        Isolate(pick, 40 + _rng.Next(110), "long-lived stale follower");
    }

    /// <summary>Asks the leader for a configuration change: leave a joint configuration, add or remove one voter
    /// (thesis §4.1), or move to an arbitrary voter set through a joint configuration (paper §6); nodes outside the voters
    /// are sometimes learners. The core may refuse (one change at a time); that is fine.</summary>
    /// <param name="direct">Propose a change straight to the core (no planner, no hand-off), as a careless operator would.</param>
    private void ChangeMembership(SimNode leader, bool direct = false)
    {
        var cfg = leader.Raft!.Config;
        if (!direct && _rng.Next(3) == 0)
        {
            PlannedMembershipStep(leader);
            return;
        }
        if (!direct && cfg.Voters.IsJoint && _rng.Next(3) == 0)
        {
            // Leadership changes while joint: the next leader must finish (or keep) the joint change correctly.
            var heir = cfg.Voters.Ids.Where(id => id != leader.Id).ToArray();
            if (heir.Length > 0 && leader.Raft.TransferLeadership(heir[_rng.Next(heir.Length)]))
            {
                Trace($"n{leader.Id} hands leadership away while joint");
                Process(leader);
                return;
            }
        }
        var all = _nodes.Select(x => x.Id).ToArray();
        var current = cfg.Voters.Incoming.Ids.ToArray();
        ConfState target;
        if (cfg.Voters.IsJoint)
        {
            target = new ConfState(current, Learners(current), [], []);
        }
        else if (_rng.Next(2) == 0)
        {
            var outside = all.Except(current).ToArray();
            var add = outside.Length > 0 && (current.Length <= 2 || _rng.Next(2) == 0);
            var voters = add ? current.Append(outside[_rng.Next(outside.Length)]).ToArray()
                             : current.Where(id => id != current[_rng.Next(current.Length)]).ToArray();
            if (voters.Length < 2) return;
            target = new ConfState(voters, Learners(voters), [], []);
        }
        else
        {
            var voters = all.Where(_ => _rng.Next(3) != 0).ToArray();
            if (voters.Length < 2 || voters.Order().SequenceEqual(current.Order())) return;
            target = new ConfState(voters, Learners(voters.Union(current).ToArray()), current, []);
        }
        try
        {
            var index = leader.Raft.ProposeConfChange(target);
            if (index != 0) _result.ConfChanges++;
            if (index != 0)
                Trace($"n{leader.Id} proposes config voters=({string.Join(",", target.Voters)})" +
                      (target.VotersOutgoing.Count > 0 ? $" && ({string.Join(",", target.VotersOutgoing)})" : "") +
                      $" learners=({string.Join(",", target.Learners)}) at {index}");
        }
        catch (ArgumentException)
        {
            return; // not an allowed change from here
        }
        Process(leader);

        ulong[] Learners(ulong[] voters) =>
            _rng.Next(2) == 0 ? all.Except(voters).ToArray() : [];
    }

    /// <summary>
    /// The node's automatic rule, from the same <see cref="MembershipPlanner"/>: add an outside server as a learner, or
    /// promote caught-up learners (one by a single-server step, several through a joint configuration marked AutoLeave),
    /// or leave such a joint configuration.
    /// </summary>
    private void PlannedMembershipStep(SimNode leader)
    {
        var raft = leader.Raft!;
        var cfg = raft.Config;
        var outside = _nodes.Select(x => x.Id).Where(id => !cfg.IsMember(id)).ToArray();
        ConfState? target = !cfg.Voters.IsJoint && outside.Length > 0 && _rng.Next(2) == 0
            ? cfg.ToConfState() with { Learners = cfg.Learners.Append(outside[_rng.Next(outside.Length)]).Order().ToArray() }
            : MembershipPlanner.NextStep(cfg, cfg.Learners, raft.Progress, raft.Log.LastIndex, maxLag: (ulong)_rng.Next(0, 20));
        if (target is null) return;
        try
        {
            var index = raft.ProposeConfChange(target);
            if (index == 0) return;
            _result.ConfChanges++;
            Trace($"n{leader.Id} planned config voters=({string.Join(",", target.Voters)})" +
                  (target.VotersOutgoing.Count > 0 ? $" && ({string.Join(",", target.VotersOutgoing)}) autoleave" : "") +
                  $" learners=({string.Join(",", target.Learners)}) at {index}");
        }
        catch (ArgumentException)
        {
            return;
        }
        Process(leader);
    }

    private void Repartition()
    {
        _cut.Clear();
        var ids = _nodes.Select(x => x.Id).ToArray();
        switch (_rng.Next(4))
        {
            case 0:
                Trace("network healed");
                break;
            case 1:
            {
                var lone = ids[_rng.Next(ids.Length)];
                foreach (var o in ids.Where(x => x != lone)) { _cut.Add((lone, o)); _cut.Add((o, lone)); }
                Trace($"n{lone} isolated");
                break;
            }
            case 2:
            {
                var side = ids.Where(_ => _rng.Next(2) == 0).ToHashSet();
                foreach (var a in side) foreach (var b in ids.Where(x => !side.Contains(x))) { _cut.Add((a, b)); _cut.Add((b, a)); }
                Trace($"split {{{string.Join(",", side)}}} | rest");
                break;
            }
            default:
            {
                var a = ids[_rng.Next(ids.Length)];
                var b = ids[_rng.Next(ids.Length)];
                if (a != b) _cut.Add((a, b));
                Trace($"one-way cut n{a} -/-> n{b}");
                break;
            }
        }
    }

    private void Heal()
    {
        _healed = true;
        _cut.Clear();
        _isolatedUntil.Clear();
        foreach (var n in _nodes)
        {
            n.CrashOnNextWrite = false;
            n.TickPeriod = TickUnits;
            if (n.Paused) Resume(n);
        }
        Trace("faults stop: network healed, crashed nodes restart");
        foreach (var n in _nodes.Where(x => !x.Up)) Start(n);
        // Pending operations must now finish within the liveness bound.
        foreach (var c in _clients) c.Deadline = long.MaxValue;
    }

    private void CheckLiveness()
    {
        var leaders = _nodes.Where(n => n.Up && n.Raft!.Role == Role.Leader).ToArray();
        var maxTerm = Members().Max(n => n.Raft!.Term);
        if (!leaders.Any(l => l.Raft!.Term == maxTerm))
            _result.Violations.Add($"liveness: no leader of term {maxTerm} {_o.LivenessTicks} ticks after faults stopped");
        foreach (var c in _clients.Where(c => c.Current is not null && c.Current.Call < _now - 20 * TickUnits))
            _result.Violations.Add($"liveness: client {c.Id} op {c.Current!.OpId} ({c.Current.Kind} {c.Current.Key}) still pending {_o.LivenessTicks} ticks after faults stopped");
        Schedule((long)(_o.HealTicks - _o.LivenessTicks) * TickUnits - 1, CheckConvergence);
    }

    private void CheckConvergence()
    {
        var states = Members().Select(n => (n.Id, n.Kv.Applied, Fp: n.Kv.Fingerprint())).ToArray();
        if (states.Select(s => s.Fp).Distinct().Count() > 1)
            _result.Violations.Add("liveness: replicas did not converge after healing: " +
                                   string.Join(", ", states.Select(s => $"n{s.Id} applied {s.Applied}")));
        _stop = true;
    }

    /// <summary>Nodes in the configuration of the most advanced running node (all nodes without membership changes):
    /// removed servers neither lead nor converge.</summary>
    private IEnumerable<SimNode> Members()
    {
        var up = _nodes.Where(n => n.Up).ToArray();
        var reference = up.OrderByDescending(n => n.Raft!.Log.LastIndex).ThenByDescending(n => n.Raft!.Term).First().Raft!.Config;
        return up.Where(n => reference.IsMember(n.Id));
    }

    private void CheckHistory()
    {
        var r = LinearizabilityChecker.Check(_history, TimeSpan.FromSeconds(10));
        if (r.TimedOut) _result.LinearizabilityTimedOut = true;
        else if (!r.IsLinearizable) _result.Violations.Add($"linearizability: {r.Explanation}");
    }

    // ------------------------------------------------------------------ state

    internal sealed class SimDisk
    {
        public HardState HardState;
        public Snapshot? Snapshot;
        public List<Entry> Entries { get; } = new();
    }

    internal sealed class SimNode(ulong id, ConfState bootstrap)
    {
        public ulong Id { get; } = id;
        public ConfState Bootstrap { get; } = bootstrap;
        public Raft? Raft;
        public SimKv Kv = new();
        public SimDisk Disk { get; } = new();
        public bool Up;
        public int Incarnation;
        public long PausedUntil;
        public int PauseEpoch;
        public bool Paused => PausedUntil != 0;
        /// <summary>What arrived while the node was paused, in arrival order.</summary>
        public List<Action> Inbox { get; } = new();
        public int TickPeriod = TickUnits;
        /// <summary>Term in which this node became leader with uncommitted entries before its no-op (0: not so).</summary>
        public ulong OldTailLeaderTerm;
        public bool CrashOnNextWrite;
        public ulong LastTracedTerm;
        public Dictionary<(int Client, long OpId), SimClient> WaitingWrites { get; } = new();
        public Dictionary<string, List<(SimClient Client, long OpId, string Key)>> WaitingReads { get; } = new();
        public List<ReadState> ReadyReads { get; } = new();
    }

    internal sealed record PendingOp(long OpId, KvOpKind Kind, string Key, string? Value, long Call);

    internal sealed class SimClient(int id)
    {
        public int Id { get; } = id;
        public long OpId;
        public PendingOp? Current;
        public long Deadline;
        public int Target;
        public int Attempt;
        /// <summary>Node that answered last (the client's idea of the leader), -1 if none.</summary>
        public int Preferred = -1;
        /// <summary>Ticks before retrying elsewhere; 0 = the impatient default.</summary>
        public int RetryTicks;
    }
}
