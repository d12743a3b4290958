using System.Diagnostics;
using System.Management.Automation;

namespace RaftPS.PowerShell;

/// <summary>
/// Progress for a pipeline of unknown length: silent for short pipelines, then a record at most every half second.
/// Always written from the pipeline thread.
/// </summary>
internal sealed class PipelineProgress(int activityId, string activity, string unit)
{
    private static readonly TimeSpan QuietFor = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(500);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _last = TimeSpan.MinValue;
    private bool _shown;

    public long Count { get; private set; }

    public void Step(Cmdlet cmdlet, string current)
    {
        Count++;
        var now = _clock.Elapsed;
        if (now < QuietFor || now - _last < Every) return;
        _last = now;
        _shown = true;
        double rate = Count / Math.Max(now.TotalSeconds, 0.001);
        cmdlet.WriteProgress(new ProgressRecord(activityId, activity, $"{Count} {unit} ({rate:0}/s)") { CurrentOperation = current });
    }

    public void Complete(Cmdlet cmdlet)
    {
        if (!_shown) return;
        cmdlet.WriteProgress(new ProgressRecord(activityId, activity, $"{Count} {unit}") { RecordType = ProgressRecordType.Completed });
    }
}
