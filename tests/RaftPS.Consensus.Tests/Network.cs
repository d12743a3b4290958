using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>What a node made durable from its Readys: enough to rebuild it after a crash (paper Fig. 2 persistent state).</summary>
public sealed class MemoryStorage
{
    public HardState HardState { get; set; }
    public Snapshot? Snapshot { get; set; }
    public List<Entry> Entries { get; } = new();

    public void Persist(Ready rd)
    {
        if (rd.Snapshot is { } s)
        {
            Snapshot = s;
            Entries.RemoveAll(e => e.Index <= s.Index);
        }
        if (rd.Entries.Count > 0)
        {
            // Entries overwrite from the first index they carry (a follower truncating a conflicting suffix).
            var first = rd.Entries[0].Index;
            Entries.RemoveAll(e => e.Index >= first);
            Entries.AddRange(rd.Entries);
        }
        if (rd.HardState is { } hs) HardState = hs;
    }

    public RecoveredLog ToRecovered() => new(HardState, Snapshot, Entries.ToList());
}

/// <summary>
/// Several <see cref="Raft"/> instances wired together in memory, in the manner of etcd-io/raft's test <c>network</c>:
/// messages taken from each Ready are queued and delivered one at a time in FIFO order; nodes can be isolated, links cut and
/// single messages dropped by predicate. Every Ready is persisted to a <see cref="MemoryStorage"/> (so a node can be
/// restarted), its committed entries are "applied" into <see cref="Applied"/>, and Advance is called. After every step the
/// harness checks election safety (one leader per term) and state machine safety (no two nodes apply different entries at
/// one index); a violation throws <see cref="SafetyViolationException"/>.
/// </summary>
public sealed class Network
{
    private readonly List<Message> _queue = new();
    private readonly Dictionary<ulong, ulong> _leaderOfTerm = new();
    private readonly Dictionary<ulong, Entry> _appliedByIndex = new();
    private readonly HashSet<ulong> _isolated = new();
    private readonly HashSet<(ulong, ulong)> _cut = new();
    private readonly List<Func<Message, bool>> _dropRules = new();
    private readonly Func<ulong, RaftOptions> _optionsFor;
    private readonly ConfState _bootstrap;

    public const int MaxDeliveries = 200_000;

    private Network(Func<ulong, RaftOptions> optionsFor, ConfState bootstrap)
    {
        _optionsFor = optionsFor;
        _bootstrap = bootstrap;
    }

    public SortedDictionary<ulong, Raft> Nodes { get; } = new();
    public Dictionary<ulong, MemoryStorage> Storage { get; } = new();
    public Dictionary<ulong, List<Entry>> Applied { get; } = new();
    public Dictionary<ulong, List<ReadState>> ReadStates { get; } = new();
    public Dictionary<ulong, List<Snapshot>> InstalledSnapshots { get; } = new();
    /// <summary>Every message some node emitted, in emission order (including ones later dropped).</summary>
    public List<Message> Sent { get; } = new();
    /// <summary>Every message handed to its recipient, in delivery order.</summary>
    public List<Message> Delivered { get; } = new();

    public Raft this[ulong id] => Nodes[id];

    /// <summary>A cluster of voters 1..size with default options (PreVote and CheckQuorum on), seeded per node.</summary>
    public static Network Create(int size, int seed = 1, Func<RaftOptions, RaftOptions>? configure = null)
    {
        var ids = Enumerable.Range(1, size).Select(i => (ulong)i).ToArray();
        return Create(ids, ConfState.Of(ids), seed, configure);
    }

    /// <summary>Nodes <paramref name="ids"/> (voters or learners as <paramref name="conf"/> says), all starting empty.</summary>
    public static Network Create(ulong[] ids, ConfState conf, int seed = 1, Func<RaftOptions, RaftOptions>? configure = null,
        Func<ulong, RecoveredLog>? recovered = null)
    {
        var net = new Network(id => Options(id, seed, configure), conf);
        foreach (var id in ids)
        {
            var rec = recovered?.Invoke(id) ?? RecoveredLog.Empty;
            var storage = new MemoryStorage { HardState = rec.HardState, Snapshot = rec.Snapshot };
            storage.Entries.AddRange(rec.Entries);
            net.Storage[id] = storage;
            net.Nodes[id] = new Raft(net._optionsFor(id), rec, conf);
            net.Applied[id] = new();
            net.ReadStates[id] = new();
            net.InstalledSnapshots[id] = new();
        }
        return net;
    }

    public static RaftOptions Options(ulong id, int seed, Func<RaftOptions, RaftOptions>? configure = null)
    {
        // Each node gets its own stream; identical streams would make every node time out together forever.
        var o = new RaftOptions { Id = id, Random = new SeededRandom(unchecked(seed * 1_000_003 + (int)id)) };
        return configure is null ? o : configure(o);
    }

    // ------------------------------------------------------------ faults

    public void Isolate(ulong id) => _isolated.Add(id);
    public void Rejoin(ulong id) => _isolated.Remove(id);

    /// <summary>Cuts the link between a and b in both directions.</summary>
    public void Cut(ulong a, ulong b)
    {
        _cut.Add((a, b));
        _cut.Add((b, a));
    }

    /// <summary>Drops every message matching <paramref name="rule"/> until <see cref="Heal"/> or removal.</summary>
    public Func<Message, bool> Drop(Func<Message, bool> rule)
    {
        _dropRules.Add(rule);
        return rule;
    }

    public void StopDropping(Func<Message, bool> rule) => _dropRules.Remove(rule);

    public void Heal()
    {
        _isolated.Clear();
        _cut.Clear();
        _dropRules.Clear();
    }

    private bool Dropped(Message m) =>
        !Nodes.ContainsKey(m.To) || _isolated.Contains(m.From) || _isolated.Contains(m.To) || _cut.Contains((m.From, m.To)) ||
        _dropRules.Any(r => r(m));

    // ------------------------------------------------------------ driving

    /// <summary>Makes <paramref name="id"/> start an election now, then delivers until quiet.</summary>
    public void Campaign(ulong id)
    {
        Nodes[id].Step(new Message { Type = MessageType.Hup, From = id, To = id });
        Drain(id);
        DeliverAll();
    }

    /// <summary>Steps a local or peer message into its recipient directly (bypassing faults), then delivers until quiet.</summary>
    public void Send(Message m)
    {
        Nodes[m.To].Step(m);
        Drain(m.To);
        DeliverAll();
    }

    /// <summary>Tells the leader <paramref name="id"/> to heartbeat now.</summary>
    public void Beat(ulong id) => Send(new Message { Type = MessageType.Beat, From = id, To = id });

    public ulong Propose(ulong id, string command)
    {
        var index = Nodes[id].Propose(System.Text.Encoding.UTF8.GetBytes(command));
        Drain(id);
        DeliverAll();
        return index;
    }

    /// <summary>Runs a callback against one node, then collects its Ready and delivers until quiet.</summary>
    public T Do<T>(ulong id, Func<Raft, T> action, bool deliver = true)
    {
        var result = action(Nodes[id]);
        Drain(id);
        if (deliver) DeliverAll();
        return result;
    }

    /// <summary>Ticks every node once (in id order), then delivers until quiet.</summary>
    public void Tick(int times = 1)
    {
        for (int t = 0; t < times; t++)
        {
            foreach (var (id, node) in Nodes)
            {
                node.Tick();
                Drain(id);
            }
            DeliverAll();
        }
    }

    /// <summary>Ticks every node once and collects what they emit, without delivering anything.</summary>
    public void TickOnly()
    {
        foreach (var (id, node) in Nodes)
        {
            node.Tick();
            Drain(id);
        }
    }

    /// <summary>Ticks until <paramref name="done"/> holds; fails after <paramref name="maxTicks"/>. Returns ticks used.</summary>
    public int TickUntil(Func<bool> done, int maxTicks)
    {
        for (int t = 0; t < maxTicks; t++)
        {
            if (done()) return t;
            Tick();
        }
        if (done()) return maxTicks;
        throw new Xunit.Sdk.XunitException($"condition not reached within {maxTicks} ticks; {Describe()}");
    }

    /// <summary>Delivers queued messages (and everything they cause) until none is left. Returns how many were delivered.</summary>
    public int DeliverAll()
    {
        int delivered = 0;
        while (_queue.Count > 0)
        {
            if (++delivered > MaxDeliveries) throw new Xunit.Sdk.XunitException("message storm: delivery bound exceeded");
            DeliverOne();
        }
        return delivered;
    }

    /// <summary>
    /// Optional chaos: when set, the next message is picked at random from the queue (reordering) and may be dropped or
    /// delivered twice, as UDP would.
    /// </summary>
    public Random? Chaos { get; set; }
    public double DropRate { get; set; }
    public double DuplicateRate { get; set; }

    /// <summary>Delivers at most one queued message. Returns false if the queue was empty.</summary>
    public bool DeliverOne()
    {
        if (_queue.Count == 0) return false;
        int at = Chaos is null ? 0 : Chaos.Next(_queue.Count);
        var m = _queue[at];
        _queue.RemoveAt(at);
        if (Dropped(m)) return true;
        if (Chaos is not null)
        {
            if (Chaos.NextDouble() < DropRate) return true;
            if (Chaos.NextDouble() < DuplicateRate) _queue.Add(m);
        }
        Delivered.Add(m);
        Nodes[m.To].Step(m);
        Drain(m.To);
        return true;
    }

    /// <summary>Throws away every queued message (e.g. to simulate a crash of everything in flight).</summary>
    public void ClearQueue() => _queue.Clear();

    public int QueuedCount => _queue.Count;
    public IEnumerable<Message> Queued => _queue;

    /// <summary>Handles every Ready of <paramref name="id"/>: persist, send (enqueue), apply, Advance.</summary>
    public void Drain(ulong id)
    {
        var node = Nodes[id];
        for (int i = 0; node.HasReady(); i++)
        {
            if (i > 10_000) throw new Xunit.Sdk.XunitException($"node {id} never stops producing Readys");
            var rd = node.GetReady();
            Storage[id].Persist(rd);
            foreach (var m in rd.Messages)
            {
                Sent.Add(m);
                _queue.Add(m);
            }
            if (rd.Snapshot is { } s) InstalledSnapshots[id].Add(s);
            foreach (var e in rd.CommittedEntries) RecordApplied(id, e);
            ReadStates[id].AddRange(rd.ReadStates);
            node.Advance(rd);
            CheckElectionSafety(id);
        }
        CheckElectionSafety(id);
    }

    private void RecordApplied(ulong id, Entry e)
    {
        Applied[id].Add(e);
        if (_appliedByIndex.TryGetValue(e.Index, out var other))
        {
            if (other.Term != e.Term || other.Type != e.Type || !other.Data.AsSpan().SequenceEqual(e.Data))
                throw new SafetyViolationException($"node {id} applied {e} at index {e.Index} but another node applied {other}");
        }
        else _appliedByIndex[e.Index] = e;
    }

    private void CheckElectionSafety(ulong id)
    {
        var node = Nodes[id];
        if (node.Role != Role.Leader) return;
        if (_leaderOfTerm.TryGetValue(node.Term, out var other) && other != id)
            throw new SafetyViolationException($"two leaders in term {node.Term}: {other} and {id}");
        _leaderOfTerm[node.Term] = id;
    }

    /// <summary>Replaces node <paramref name="id"/> by a fresh instance recovered from what it persisted (a crash and restart).</summary>
    public Raft Restart(ulong id, Func<RaftOptions, RaftOptions>? configure = null)
    {
        var options = _optionsFor(id);
        if (configure is not null) options = configure(options);
        var raft = new Raft(options, Storage[id].ToRecovered(), _bootstrap);
        Nodes[id] = raft;
        return raft;
    }

    // ------------------------------------------------------------ queries

    /// <summary>The entry applied at each index by whichever node applied it first.</summary>
    public IReadOnlyDictionary<ulong, Entry> AppliedByIndex => _appliedByIndex;

    public IEnumerable<Raft> Leaders => Nodes.Values.Where(n => n.Role == Role.Leader);

    /// <summary>The only leader among nodes that are not isolated; fails if there is none or several.</summary>
    public Raft Leader
    {
        get
        {
            var leaders = Nodes.Values.Where(n => n.Role == Role.Leader && !_isolated.Contains(n.Id)).ToList();
            if (leaders.Count != 1) throw new Xunit.Sdk.XunitException($"expected one leader, found {leaders.Count}; {Describe()}");
            return leaders[0];
        }
    }

    public string Describe() => string.Join("; ", Nodes.Values.Select(n =>
        $"{n.Id}:{n.Role} t{n.Term} lead{n.Lead} last{n.Log.LastIndex}@{n.Log.LastTerm} commit{n.Log.Committed}"));

    /// <summary>Entries of a node's log from its first index, as "index@term" strings.</summary>
    public static string[] LogOf(Raft r) =>
        r.Log.LastIndex < r.Log.FirstIndex ? [] : r.Log.Slice(r.Log.FirstIndex, r.Log.LastIndex + 1).Select(e => $"{e.Index}@{e.Term}").ToArray();
}

public sealed class SafetyViolationException(string message) : Exception(message);
