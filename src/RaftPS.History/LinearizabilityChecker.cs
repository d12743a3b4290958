using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading;

namespace RaftPS.History;

/// <summary>
/// Checks key-value client histories for linearizability.
/// <para>A map of independent registers is linearizable iff every key's sub-history is (P-compositionality,
/// Horn &amp; Kroening 2015), so each key is checked on its own. Per key this is the Wing &amp; Gong depth-first search
/// over linearization points with Lowe's memoization of (set of linearized ops, model state), in the linked-list form
/// used by Porcupine. Every key starts absent.</para>
/// </summary>
public static class LinearizabilityChecker
{
    /// <summary>
    /// Checks <paramref name="history"/>. <paramref name="budget"/> bounds the total search time over all keys
    /// (<see cref="Timeout.InfiniteTimeSpan"/> for no bound). A result with <c>TimedOut</c> is not a verdict.
    /// </summary>
    /// <exception cref="ArgumentNullException">history is null.</exception>
    /// <exception cref="ArgumentException">an operation is null or malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">budget is negative (other than infinite).</exception>
    public static LinearizabilityResult Check(IReadOnlyList<KvOperation> history, TimeSpan budget)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (budget < TimeSpan.Zero && budget != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "Budget must be non-negative or Timeout.InfiniteTimeSpan.");
        }

        var byKey = new Dictionary<string, List<KvOperation>>(StringComparer.Ordinal);
        for (int i = 0; i < history.Count; i++)
        {
            KvOperation op = history[i] ?? throw new ArgumentException($"Operation #{i} is null.", nameof(history));
            Validate(op, i);
            if (!byKey.TryGetValue(op.Key, out List<KvOperation>? list))
            {
                list = new List<KvOperation>();
                byKey.Add(op.Key, list);
            }
            list.Add(op);
        }

        long start = Stopwatch.GetTimestamp();
        long deadline = budget == Timeout.InfiniteTimeSpan
            ? long.MaxValue
            : start + (long)Math.Min(budget.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2.0);

        // Small keys first: a violation there is found before a hard key can eat the whole budget.
        var keys = byKey.Keys.OrderBy(k => byKey[k].Count).ThenBy(k => k, StringComparer.Ordinal).ToList();
        int checkedKeys = 0;
        foreach (string key in keys)
        {
            var search = new KeySearch(key, byKey[key], deadline);
            KeyOutcome outcome = search.Run();
            switch (outcome)
            {
                case KeyOutcome.Violation:
                    return new LinearizabilityResult(false, false, key, search.Explanation);
                case KeyOutcome.TimedOut:
                    return new LinearizabilityResult(true, true, key, string.Create(CultureInfo.InvariantCulture,
                        $"Timed out after {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F0} ms (budget {budget.TotalMilliseconds:F0} ms) " +
                        $"while checking key {OperationText.Str(key)} ({byKey[key].Count} ops); {checkedKeys} of {keys.Count} keys were linearizable, the rest unchecked."));
            }
            checkedKeys++;
        }

        return new LinearizabilityResult(true, false, null, string.Create(CultureInfo.InvariantCulture,
            $"Linearizable: {history.Count} ops over {keys.Count} keys in {Stopwatch.GetElapsedTime(start).TotalMilliseconds:F1} ms."));
    }

    private static void Validate(KvOperation op, int index)
    {
        if (op.Key is null)
        {
            throw new ArgumentException($"Operation #{index} has a null key.", "history");
        }
        if (op.Kind is not (KvOpKind.Put or KvOpKind.Get or KvOpKind.Delete))
        {
            throw new ArgumentException($"Operation #{index} has unknown kind {(int)op.Kind}.", "history");
        }
        if (op.Kind == KvOpKind.Put && op.Value is null)
        {
            throw new ArgumentException($"Operation #{index} is a Put with a null value (use Delete to remove a key).", "history");
        }
        if (op.Completed && op.Return < op.Call)
        {
            throw new ArgumentException($"Operation #{index} returns at {op.Return} before it is called at {op.Call}.", "history");
        }
    }

    private enum KeyOutcome
    {
        Linearizable,
        Violation,
        TimedOut,
    }

    /// <summary>
    /// Memo entry: a set of linearized ops plus the register value after them. Sets are a long run of ones (everything
    /// that returned long ago) followed by a short ragged window, so only the words from the first one that is not
    /// all ones (<see cref="Low"/>) to the last non-zero one are kept: exact, and a few words instead of n/64.
    /// </summary>
    private readonly struct CacheKey
    {
        public readonly ulong[] Words;
        public readonly int Start;
        public readonly int Length;
        public readonly int Low;
        public readonly int State;
        public readonly ulong Hash;

        private CacheKey(ulong[] words, int start, int length, int low, int state, ulong hash)
        {
            Words = words;
            Start = start;
            Length = length;
            Low = low;
            State = state;
            Hash = hash;
        }

        /// <summary>A key viewing <paramref name="bits"/> in place, for lookups.</summary>
        public static CacheKey View(ulong[] bits, int state, ulong hash)
        {
            int low = 0;
            while (low < bits.Length && bits[low] == ulong.MaxValue)
            {
                low++;
            }
            int high = bits.Length - 1;
            while (high >= low && bits[high] == 0)
            {
                high--;
            }
            return new CacheKey(bits, low, high - low + 1, low, state, hash);
        }

        /// <summary>A copy that no longer aliases the live bitset, for storing.</summary>
        public CacheKey Detach() =>
            new(Words.AsSpan(Start, Length).ToArray(), 0, Length, Low, State, Hash);
    }

    private sealed class CacheKeyComparer : IEqualityComparer<CacheKey>
    {
        public static readonly CacheKeyComparer Instance = new();

        public bool Equals(CacheKey x, CacheKey y) =>
            x.Hash == y.Hash && x.State == y.State && x.Low == y.Low && x.Length == y.Length &&
            x.Words.AsSpan(x.Start, x.Length).SequenceEqual(y.Words.AsSpan(y.Start, y.Length));

        public int GetHashCode(CacheKey k) => (int)(k.Hash ^ (k.Hash >> 32));
    }

    /// <summary>The search over one key's sub-history.</summary>
    private sealed class KeySearch
    {
        private const int Head = 0;
        private const int Tail = 1;
        private const int NoValue = -1; // a Get output that no Put wrote; can never match a state
        private const int Absent = 0;   // state id of "key absent"

        private readonly string _key;
        private readonly List<KvOperation> _raw;
        private readonly long _deadline;

        // Ops that take part in the search, with their model encoding.
        private KvOperation[] _ops = [];
        private int[] _opValue = [];      // Put: value id; Delete: Absent; Get: id of the output read

        // Doubly linked event list (Porcupine): index 0 = head, 1 = tail, then events.
        private int[] _next = [];
        private int[] _prev = [];
        private int[] _eventOp = [];
        private int[] _match = [];        // call event -> its return event, -1 for unknown outcome (no return event)

        private List<string> _values = new() { "<absent>" };

        // Best (deepest) failure seen, for the explanation.
        private int _bestDepth = -1;
        private int[] _bestTail = [];
        private int _bestState;
        private int _bestBlocking = -1;
        private int[] _bestPending = [];

        public KeySearch(string key, List<KvOperation> ops, long deadline)
        {
            _key = key;
            _raw = ops;
            _deadline = deadline;
        }

        public string Explanation { get; private set; } = "";

        public KeyOutcome Run()
        {
            if (!Prepare())
            {
                return KeyOutcome.Violation;
            }
            return Search();
        }

        /// <summary>Filters and encodes ops, builds the event list. Returns false on an obvious violation.</summary>
        private bool Prepare()
        {
            var valueIds = new Dictionary<string, int>(StringComparer.Ordinal);
            var minPutCall = new List<long> { long.MinValue }; // per value id: earliest Put call ("absent" holds initially)
            foreach (KvOperation op in _raw)
            {
                if (op.Kind != KvOpKind.Put)
                {
                    continue;
                }
                if (!valueIds.TryGetValue(op.Value!, out int id))
                {
                    id = _values.Count;
                    valueIds.Add(op.Value!, id);
                    _values.Add(op.Value!);
                    minPutCall.Add(long.MaxValue);
                }
                minPutCall[id] = Math.Min(minPutCall[id], op.Call);
            }

            // Latest return of a completed Get that read each value: an unknown-outcome write whose value no Get
            // could have read after its call is irrelevant. Dropping it is sound: in any linearization containing
            // it, no Get sits between it and the next write (such a Get would read its value), so removing it
            // leaves a valid linearization. This keeps timed-out writes from blowing up the search.
            var maxGetReturn = new long[_values.Count];
            Array.Fill(maxGetReturn, long.MinValue);
            foreach (KvOperation op in _raw)
            {
                if (op.Kind != KvOpKind.Get || !op.Completed)
                {
                    continue;
                }
                int id = op.Output is null ? Absent : valueIds.GetValueOrDefault(op.Output, NoValue);
                // Fast path with a clear message: a read of a value no Put wrote before the read returned.
                if (id == NoValue || minPutCall[id] > op.Return)
                {
                    Explanation = $"Key {OperationText.Str(_key)} is not linearizable: {OperationText.Op(op)} read a value that no Put on this key " +
                                  (id == NoValue ? "ever wrote." : "had been invoked with before the read returned.");
                    return false;
                }
                maxGetReturn[id] = Math.Max(maxGetReturn[id], op.Return);
            }

            var kept = new List<KvOperation>(_raw.Count);
            var keptValue = new List<int>(_raw.Count);
            foreach (KvOperation op in _raw)
            {
                int id = op.Kind switch
                {
                    KvOpKind.Put => valueIds[op.Value!],
                    KvOpKind.Delete => Absent,
                    _ => op.Output is null ? Absent : valueIds.GetValueOrDefault(op.Output, NoValue),
                };
                if (!op.Completed && (op.Kind == KvOpKind.Get || maxGetReturn[id] < op.Call))
                {
                    continue;
                }
                kept.Add(op);
                keptValue.Add(id);
            }
            _ops = kept.ToArray();
            _opValue = keptValue.ToArray();

            // Events: one call per op, one return per completed op. Sorted by time; at equal times calls come before
            // returns so touching intervals count as concurrent (no false alarms from coarse clocks).
            var events = new List<(long Time, int IsReturn, int Op)>(2 * _ops.Length);
            for (int i = 0; i < _ops.Length; i++)
            {
                events.Add((_ops[i].Call, 0, i));
                if (_ops[i].Completed)
                {
                    events.Add((_ops[i].Return, 1, i));
                }
            }
            events.Sort();

            int count = events.Count + 2;
            _next = new int[count];
            _prev = new int[count];
            _eventOp = new int[count];
            _match = new int[count];
            Array.Fill(_match, -1);
            var callEvent = new int[_ops.Length];
            int last = Head;
            for (int e = 0; e < events.Count; e++)
            {
                int idx = e + 2;
                _eventOp[idx] = events[e].Op;
                if (events[e].IsReturn == 0)
                {
                    callEvent[events[e].Op] = idx;
                }
                else
                {
                    _match[callEvent[events[e].Op]] = idx;
                    _match[idx] = -2; // marks a return event
                }
                _next[last] = idx;
                _prev[idx] = last;
                last = idx;
            }
            _next[last] = Tail;
            _prev[Tail] = last;
            _next[Tail] = Tail;
            _eventOp[Head] = _eventOp[Tail] = -1;
            _match[Head] = _match[Tail] = -2;
            return true;
        }

        private bool IsCall(int e) => _match[e] != -2;

        private void Lift(int e)
        {
            _next[_prev[e]] = _next[e];
            _prev[_next[e]] = _prev[e];
            int m = _match[e];
            if (m >= 0)
            {
                _next[_prev[m]] = _next[m];
                _prev[_next[m]] = _prev[m];
            }
        }

        private void Unlift(int e)
        {
            int m = _match[e];
            if (m >= 0)
            {
                _prev[_next[m]] = m;
                _next[_prev[m]] = m;
            }
            _prev[_next[e]] = e;
            _next[_prev[e]] = e;
        }

        /// <summary>The register model: returns false when the op cannot take effect in this state.</summary>
        private bool Step(int op, int state, out int newState)
        {
            switch (_ops[op].Kind)
            {
                case KvOpKind.Get:
                    newState = state;
                    return _opValue[op] == state;
                default: // Put and Delete always succeed; Delete's value id is Absent.
                    newState = _opValue[op];
                    return true;
            }
        }

        // Search state, valid during Search().
        private bool[] _linearized = [];
        private ulong[] _bits = [];         // memo key: linearized ops, minus unknown writes that can no longer matter
        private ulong[] _zobrist = [];      // random per-op keys: the set's hash is the XOR of its members' keys
        private ulong _setHash;
        private int _state;
        private int _remaining;             // completed ops not yet linearized; done at zero (unknown ops may stay out)
        private int[] _stackEvent = [];
        private int[] _stackState = [];
        private bool[] _stackForced = [];
        private int _sp;
        private HashSet<CacheKey> _cache = new(CacheKeyComparer.Instance);
        private int[] _pendingGets = [];    // per value id: Gets reading it that are not linearized yet
        private int[][] _unknownByValue = []; // per value id: unknown-outcome writes of that value

        /// <summary>
        /// Depth-first search over linearization orders. A node is the list of not-yet-linearized ops; its window is
        /// the calls before the first remaining return event. Two reductions keep this small, both preserving
        /// completeness:
        /// <list type="bullet">
        /// <item>A Get in the window that reads the current value is linearized at once, with no alternatives: in any
        /// valid completion it can be moved to the front (it changes nothing, and every op that had to precede it in
        /// real time is already linearized).</item>
        /// <item>An unknown-outcome write is tried only when a Get of its value is in the window. Any valid completion
        /// can drop unknown writes not followed (before the next write) by a read of their value, so the op right
        /// after such a write is a Get of its value, which must already be in the window. Otherwise unknown writes
        /// would stay pending to the end of the history and multiply the search space.</item>
        /// </list>
        /// The memo holds every (linearized set, value) node already entered; all of them failed, since success ends
        /// the search.
        /// </summary>
        private KeyOutcome Search()
        {
            int n = _ops.Length;
            _remaining = _ops.Count(o => o.Completed);
            _zobrist = new ulong[n];
            ulong seed = 0x9E3779B97F4A7C15UL;
            for (int i = 0; i < n; i++)
            {
                _zobrist[i] = SplitMix(ref seed);
            }
            _linearized = new bool[n];
            _bits = new ulong[(n + 63) / 64];
            _setHash = 0;
            _pendingGets = new int[_values.Count];
            var unknownByValue = new List<int>?[_values.Count];
            for (int i = 0; i < n; i++)
            {
                if (_ops[i].Kind == KvOpKind.Get)
                {
                    _pendingGets[_opValue[i]]++;
                }
                else if (!_ops[i].Completed)
                {
                    (unknownByValue[_opValue[i]] ??= new List<int>()).Add(i);
                }
            }
            _unknownByValue = unknownByValue.Select(l => l?.ToArray() ?? []).ToArray();
            _state = Absent;
            _stackEvent = new int[n];
            _stackState = new int[n];
            _stackForced = new bool[n];
            _sp = 0;
            _cache = new HashSet<CacheKey>(CacheKeyComparer.Instance);

            long iterations = 0;
            bool newNode = true;
            int entry = Head;
            while (true)
            {
                if ((iterations++ & 1023) == 0 && Stopwatch.GetTimestamp() >= _deadline)
                {
                    return KeyOutcome.TimedOut;
                }

                if (newNode)
                {
                    newNode = false;
                    if (_remaining == 0)
                    {
                        return KeyOutcome.Linearizable;
                    }
                    int get = FindEnabledGet();
                    if (get >= 0)
                    {
                        if (TryPush(get, forced: true))
                        {
                            newNode = true;
                            continue;
                        }
                        // Its only branch was explored before and failed, so this node fails.
                        if (!Backtrack(out entry))
                        {
                            return KeyOutcome.Violation;
                        }
                        continue;
                    }
                    entry = _next[Head];
                }

                if (IsCall(entry))
                {
                    if (MayTry(_eventOp[entry]) && TryPush(entry, forced: false))
                    {
                        newNode = true;
                        continue;
                    }
                    entry = _next[entry];
                }
                else
                {
                    // Reached a return (or the end) whose op is not linearized: this node fails.
                    if (_sp > _bestDepth)
                    {
                        RecordBest(entry);
                    }
                    if (!Backtrack(out entry))
                    {
                        return KeyOutcome.Violation;
                    }
                }
            }
        }

        /// <summary>First Get in the window that reads the current value, or -1.</summary>
        private int FindEnabledGet()
        {
            for (int e = _next[Head]; IsCall(e); e = _next[e])
            {
                int op = _eventOp[e];
                if (_ops[op].Kind == KvOpKind.Get && _opValue[op] == _state)
                {
                    return e;
                }
            }
            return -1;
        }

        /// <summary>
        /// Completed ops may always be tried. An unknown write only when a Get of its value is in the window, and only
        /// if no earlier-called unknown write of the same value is still unused: such writes are interchangeable
        /// (neither has a return), so using them in call order loses nothing and avoids trying every subset.
        /// </summary>
        private bool MayTry(int op)
        {
            if (_ops[op].Completed)
            {
                return true;
            }
            int value = _opValue[op];
            bool getSeen = false, passedSelf = false;
            for (int e = _next[Head]; IsCall(e); e = _next[e])
            {
                int other = _eventOp[e];
                if (other == op)
                {
                    passedSelf = true;
                }
                else if (_opValue[other] == value)
                {
                    if (_ops[other].Kind == KvOpKind.Get)
                    {
                        getSeen = true;
                    }
                    else if (!_ops[other].Completed && !passedSelf)
                    {
                        return false;
                    }
                }
                if (getSeen && passedSelf)
                {
                    return true;
                }
            }
            return false;
        }

        private void Toggle(int op)
        {
            _bits[op >> 6] ^= 1UL << op;
            _setHash ^= _zobrist[op];
        }

        /// <summary>
        /// Marks <paramref name="op"/> linearized and updates the memo key. Once no Get of a value is left, the unknown
        /// writes of that value can never be tried again, so whether they were used no longer affects the future: their
        /// key bits are all set, which merges nodes that differ only in them (and keeps the key's run of ones long).
        /// </summary>
        private void Apply(int op)
        {
            _linearized[op] = true;
            int value = _opValue[op];
            if (_ops[op].Completed || _pendingGets[value] > 0)
            {
                Toggle(op);
            }
            if (_ops[op].Kind == KvOpKind.Get && --_pendingGets[value] == 0)
            {
                foreach (int u in _unknownByValue[value])
                {
                    if (!_linearized[u])
                    {
                        Toggle(u);
                    }
                }
            }
        }

        /// <summary>Exact inverse of <see cref="Apply"/>.</summary>
        private void Unapply(int op)
        {
            int value = _opValue[op];
            if (_ops[op].Kind == KvOpKind.Get && _pendingGets[value]++ == 0)
            {
                foreach (int u in _unknownByValue[value])
                {
                    if (!_linearized[u])
                    {
                        Toggle(u);
                    }
                }
            }
            if (_ops[op].Completed || _pendingGets[value] > 0)
            {
                Toggle(op);
            }
            _linearized[op] = false;
        }

        /// <summary>Linearizes the op of call event <paramref name="e"/> unless the model rejects it or the node is memoized.</summary>
        private bool TryPush(int e, bool forced)
        {
            int op = _eventOp[e];
            if (!Step(op, _state, out int newState))
            {
                return false;
            }
            Apply(op);
            var probe = CacheKey.View(_bits, newState, _setHash ^ Mix((ulong)newState));
            if (_cache.Contains(probe))
            {
                Unapply(op);
                return false;
            }
            _cache.Add(probe.Detach());
            _stackEvent[_sp] = e;
            _stackState[_sp] = _state;
            _stackForced[_sp] = forced;
            _sp++;
            _state = newState;
            Lift(e);
            if (_ops[op].Completed)
            {
                _remaining--;
            }
            return true;
        }

        /// <summary>
        /// Undoes linearizations until a node with untried alternatives; <paramref name="resume"/> is where its scan
        /// continues. Returns false when the root has failed.
        /// </summary>
        private bool Backtrack(out int resume)
        {
            while (_sp > 0)
            {
                _sp--;
                int e = _stackEvent[_sp];
                int op = _eventOp[e];
                Unapply(op);
                _state = _stackState[_sp];
                Unlift(e);
                if (_ops[op].Completed)
                {
                    _remaining++;
                }
                if (!_stackForced[_sp])
                {
                    resume = _next[e];
                    return true;
                }
            }
            Explanation = Explain();
            resume = Tail;
            return false;
        }

        private void RecordBest(int blockingEvent)
        {
            const int Show = 4;
            int depth = _sp;
            _bestDepth = depth;
            _bestState = _state;
            _bestBlocking = blockingEvent == Tail ? -1 : _eventOp[blockingEvent];
            int from = Math.Max(0, depth - Show);
            _bestTail = new int[depth - from];
            for (int i = from; i < depth; i++)
            {
                _bestTail[i - from] = _eventOp[_stackEvent[i]];
            }
            // Completed ops first: long-pending unknown writes are rarely the interesting part.
            var pending = new List<int>();
            for (int pass = 0; pass < 2; pass++)
            {
                for (int e = _next[Head]; IsCall(e) && pending.Count < 6; e = _next[e])
                {
                    int op = _eventOp[e];
                    if (_ops[op].Completed == (pass == 0))
                    {
                        pending.Add(op);
                    }
                }
            }
            _bestPending = pending.ToArray();
        }

        private string Explain()
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture,
                $"Key {OperationText.Str(_key)} is not linearizable ({_ops.Length} ops searched). ");
            sb.Append(CultureInfo.InvariantCulture,
                $"Longest linearizable prefix found has {_bestDepth} ops");
            if (_bestTail.Length > 0)
            {
                sb.Append(", ending with: ").Append(string.Join("; ", _bestTail.Select(o => OperationText.Op(_ops[o]))));
            }
            sb.Append(". Value after it: ").Append(_bestState == Absent ? "absent" : OperationText.Str(_values[_bestState])).Append('.');
            if (_bestBlocking >= 0)
            {
                sb.Append(" It cannot be extended past ").Append(OperationText.Op(_ops[_bestBlocking]))
                  .Append(", which returned before it could take effect");
                if (_bestPending.Length > 0)
                {
                    sb.Append("; ops pending then: ").Append(string.Join("; ", _bestPending.Select(o => OperationText.Op(_ops[o]))));
                }
                sb.Append('.');
            }
            return sb.ToString();
        }

        private static ulong SplitMix(ref ulong state)
        {
            state += 0x9E3779B97F4A7C15UL;
            return Mix(state);
        }

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
