using System.Diagnostics;

namespace RaftPS.History;

/// <summary>Runs the linearizability checker over a history and, on a violation, narrows it to a failing window.</summary>
public static class HistoryAnalyzer
{
    /// <summary>Checks <paramref name="operations"/> within <paramref name="budget"/> (shared by the check and the narrowing).</summary>
    /// <exception cref="ArgumentNullException">operations is null.</exception>
    /// <exception cref="ArgumentException">An operation is malformed.</exception>
    /// <exception cref="ArgumentOutOfRangeException">budget is not positive.</exception>
    public static HistoryVerdict Analyze(IReadOnlyList<KvOperation> operations, TimeSpan budget)
    {
        ArgumentNullException.ThrowIfNull(operations);
        if (budget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(budget), budget, "The budget must be positive.");
        }
        var clock = Stopwatch.StartNew();
        LinearizabilityResult result = LinearizabilityChecker.Check(operations, budget);
        int unknown = operations.Count(o => !o.Completed);
        int keys = operations.Select(o => o.Key).Distinct(StringComparer.Ordinal).Count();
        if (result.IsLinearizable || result.TimedOut || result.Key is null)
        {
            return new HistoryVerdict
            {
                IsLinearizable = result.IsLinearizable,
                TimedOut = result.TimedOut,
                Operations = operations.Count,
                Unknown = unknown,
                Keys = keys,
                Key = result.Key,
                Explanation = result.Explanation,
                Elapsed = clock.Elapsed,
            };
        }

        var ofKey = operations.Where(o => string.Equals(o.Key, result.Key, StringComparison.Ordinal)).ToList();
        TimeSpan left = budget - clock.Elapsed;
        FailingWindow? window = left > TimeSpan.Zero ? FailingWindowFinder.Find(ofKey, left) : null;
        return new HistoryVerdict
        {
            IsLinearizable = false,
            TimedOut = false,
            Operations = operations.Count,
            Unknown = unknown,
            Keys = keys,
            Key = result.Key,
            Explanation = window is null
                ? result.Explanation
                : result.Explanation + $" Smallest failing window: [{window.Start}, {window.End}] ({window.Operations.Count} ops).",
            WindowStart = window?.Start,
            WindowEnd = window?.End,
            FailingWindow = window?.Operations ?? [],
            Elapsed = clock.Elapsed,
        };
    }
}
