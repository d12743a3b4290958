using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>Failure drills: transport faults injected at run time by a client (only when the node allows it).</summary>
public sealed partial class RaftServer
{
    private const int MaxFaultDelayMs = 10_000;
    private const int MaxSuspendMs = 60_000;
    private long _faultGeneration;
    // The faults last set by a drill (what GetFaults reports), and when a suspension lifts by itself.
    private FaultSpec _faultSpec = FaultSpec.None;
    private long _faultSuspendedUntilMs;

    /// <summary>The drill faults in force: the last setting, with the suspension's remaining time (0 once lifted).</summary>
    private FaultSpec CurrentFaults() =>
        _faultSpec with { SuspendMs = (int)Math.Max(0, Math.Min(int.MaxValue, _faultSuspendedUntilMs - NowMs)) };

    private void SetFaults(ClientRequest r, EndPoint from)
    {
        ClientReply Bad(string error) => new() { RequestId = r.RequestId, Status = ReplyStatus.BadRequest, Error = error };
        if (!_options.AllowFaultInjection)
        {
            Reply(from, Bad("fault injection is disabled on this node (start it with fault injection allowed)"));
            return;
        }
        var spec = r.Faults ?? FaultSpec.None;
        var peers = new HashSet<ulong>();
        foreach (var id in spec.PartitionFrom)
        {
            var m = _members.Find(id);
            if (m is null)
            {
                Reply(from, Bad($"'{id}' is not a cluster member"));
                return;
            }
            peers.Add(m.NodeId);
        }
        // Capped so a drill (or a stolen admin credential) cannot park datagrams for hours or freeze the node indefinitely.
        if (spec.DelayMs is < 0 or > MaxFaultDelayMs || spec.SuspendMs is < 0 or > MaxSuspendMs || !(spec.DropRate is >= 0 and <= 1))
        {
            Reply(from, Bad($"delay must be 0-{MaxFaultDelayMs} ms, suspension 0-{MaxSuspendMs} ms, drop rate 0-1"));
            return;
        }
        var settings = new FaultSettings
        {
            DropRate = spec.DropRate, Delay = TimeSpan.FromMilliseconds(spec.DelayMs), PartitionedFrom = peers, Suspended = spec.SuspendMs > 0,
        };
        // Drops, delays and partitions take effect before the client hears "done" (a drill's next write must not reach a
        // node it just cut off); a suspension only after the reply, since a suspended node sends nothing, and it lifts by
        // itself: a suspended node hears nothing, not even "resume".
        var generation = Interlocked.Increment(ref _faultGeneration);
        _transport.Faults = settings with { Suspended = false };
        Reply(from, new ClientReply { RequestId = r.RequestId });
        _transport.Faults = settings;
        _faultSpec = spec;
        _faultSuspendedUntilMs = spec.SuspendMs > 0 ? NowMs + spec.SuspendMs : 0;
        _log.LogWarning("fault injection: drop {Drop:P0}, delay {Delay} ms, partitioned from [{Peers}], suspended {Suspend} ms",
            spec.DropRate, spec.DelayMs, string.Join(",", spec.PartitionFrom), spec.SuspendMs);
        if (spec.SuspendMs > 0)
        {
            var resumed = settings with { Suspended = false };
            _ = Task.Delay(spec.SuspendMs, _stop.Token).ContinueWith(t =>
            {
                // Only if no newer fault setting replaced this one meanwhile.
                if (!t.IsCanceled && Interlocked.Read(ref _faultGeneration) == generation) _transport.Faults = resumed;
            }, TaskScheduler.Default);
        }
    }
}
