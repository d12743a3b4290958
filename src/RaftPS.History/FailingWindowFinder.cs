using System.Diagnostics;

namespace RaftPS.History;

/// <summary>
/// Narrows a non-linearizable single-key history to the shortest time window [s, t] that is impossible on its own.
/// <para>The window is built from two cuts that are each implied by linearizability, so a failing window proves the
/// whole history fails (not just that the search got lost):</para>
/// <list type="bullet">
/// <item>Prefix at t: drop ops called after t; ops returning after t become unknown (writes) or are dropped (reads).
/// A linearization of the whole history restricted to the ops whose linearization point is at most t is one of
/// this prefix.</item>
/// <item>Suffix from s: drop ops that returned before s; ops straddling s become unknown writes or are dropped; the
/// key's value just before s is unknown, so the window fails only if it fails from every value it could have held:
/// absent, or the value of any write called before s that no completed write is known to have overwritten before s.
/// That value is installed by a synthetic write that returns just before s.</item>
/// </list>
/// Both cuts get weaker as the window shrinks, so binary search finds the smallest t first, then the largest s. Every
/// step is a call of the same checker; a step that runs out of budget counts as "not failing", which only makes the
/// window larger, never wrong.
/// </summary>
internal static class FailingWindowFinder
{
    private const int SyntheticClient = -1;

    /// <summary>The window, or null when even the whole history could not be shown to fail within the budget.</summary>
    public static FailingWindow? Find(IReadOnlyList<KvOperation> ops, TimeSpan budget)
    {
        if (ops.Count == 0)
        {
            return null;
        }
        long deadline = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
        long first = ops.Min(o => o.Call);

        long[] ends = ops.Where(o => o.Completed).Select(o => o.Return).Append(long.MaxValue).Distinct().Order().ToArray();
        int endIndex = SmallestFailing(ends.Length, i => Fails(ops, first, ends[i], deadline));
        if (endIndex < 0)
        {
            return null;
        }
        long end = ends[endIndex];

        long[] starts = ops.Select(o => o.Call).Where(c => c <= end).Distinct().Order().ToArray();
        // Largest failing start: search the reversed array for the smallest failing index.
        int fromEnd = SmallestFailing(starts.Length, i => Fails(ops, starts[starts.Length - 1 - i], end, deadline));
        long start = fromEnd < 0 ? first : starts[starts.Length - 1 - fromEnd];

        // Report the window from the last write known to have completed before it opened, so the listing shows
        // what fixed the key's value at its start (the window alone may be just one read).
        long overwrite = LatestOverwrite(ops, start);
        long from = overwrite == long.MinValue ? start : Math.Min(start, overwrite);
        var inWindow = ops.Where(o => o.Call <= end && (!o.Completed || o.Return >= from)).OrderBy(o => o.Call).ToList();
        return new FailingWindow(from, end, inWindow);
    }

    /// <summary>
    /// Binary search for the smallest index whose probe fails, assuming failures are upward closed. The last index
    /// is probed first; -1 when it does not fail.
    /// </summary>
    private static int SmallestFailing(int count, Func<int, bool> fails)
    {
        if (count == 0 || !fails(count - 1))
        {
            return -1;
        }
        int low = 0, high = count - 1; // high always fails
        while (low < high)
        {
            int mid = low + (high - low) / 2;
            if (fails(mid))
            {
                high = mid;
            }
            else
            {
                low = mid + 1;
            }
        }
        return high;
    }

    /// <summary>True when the window [start, end] fails from every possible initial value.</summary>
    private static bool Fails(IReadOnlyList<KvOperation> ops, long start, long end, long deadline)
    {
        List<KvOperation> window = Cut(ops, start, end);
        if (window.Count == 0)
        {
            return false;
        }
        foreach (string? initial in InitialValues(ops, start))
        {
            TimeSpan left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }
            var probe = new List<KvOperation>(window.Count + 1) { Initial(ops[0].Key, initial, start) };
            probe.AddRange(window);
            LinearizabilityResult r = LinearizabilityChecker.Check(probe, left);
            if (r.IsLinearizable || r.TimedOut)
            {
                return false;
            }
        }
        return true;
    }

    private static List<KvOperation> Cut(IReadOnlyList<KvOperation> ops, long start, long end)
    {
        var window = new List<KvOperation>(ops.Count);
        foreach (KvOperation op in ops)
        {
            if (op.Call > end || (op.Completed && op.Return < start))
            {
                continue;
            }
            bool straddles = op.Call < start || !op.Completed || op.Return > end;
            if (!straddles)
            {
                window.Add(op);
            }
            else if (op.Kind != KvOpKind.Get)
            {
                window.Add(op with { Return = long.MaxValue, Completed = false });
            }
        }
        return window;
    }

    /// <summary>
    /// Values the key may hold just before <paramref name="start"/> (null = absent): a write W called before start
    /// is a candidate unless some completed write began after W returned and returned before start.
    /// </summary>
    private static IEnumerable<string?> InitialValues(IReadOnlyList<KvOperation> ops, long start)
    {
        long latestOverwrite = LatestOverwrite(ops, start);
        var values = new HashSet<string?>();
        if (latestOverwrite == long.MinValue)
        {
            values.Add(null); // nothing is known to have been written before start: the key may still be absent
        }
        foreach (KvOperation op in ops)
        {
            if (op.Kind != KvOpKind.Get && op.Call < start && (!op.Completed || op.Return >= latestOverwrite))
            {
                values.Add(op.Kind == KvOpKind.Put ? op.Value : null);
            }
        }
        return values;
    }

    /// <summary>The latest call of a completed write that returned before <paramref name="start"/>, or long.MinValue.</summary>
    private static long LatestOverwrite(IReadOnlyList<KvOperation> ops, long start)
    {
        long latest = long.MinValue;
        foreach (KvOperation op in ops)
        {
            if (op.Kind != KvOpKind.Get && op.Completed && op.Return < start)
            {
                latest = Math.Max(latest, op.Call);
            }
        }
        return latest;
    }

    /// <summary>A write that installs <paramref name="value"/> and returns before every op that starts in the window.</summary>
    private static KvOperation Initial(string key, string? value, long start) => value is null
        ? new KvOperation(SyntheticClient, KvOpKind.Delete, key, null, null, start - 2, start - 1, true)
        : new KvOperation(SyntheticClient, KvOpKind.Put, key, value, null, start - 2, start - 1, true);
}
