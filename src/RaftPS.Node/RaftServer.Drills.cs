using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Transport;
using RaftPS.Protocol;

namespace RaftPS.Node;

/// <summary>Failure drills: transport faults injected at run time by a client (only when the node allows it).</summary>
public sealed partial class RaftServer
{
    private long _faultGeneration;

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
        if (spec.DelayMs < 0 || spec.SuspendMs < 0)
        {
            Reply(from, Bad("delay and suspension must not be negative"));
            return;
        }
        var settings = new FaultSettings
        {
            DropRate = spec.DropRate, Delay = TimeSpan.FromMilliseconds(spec.DelayMs), PartitionedFrom = peers, Suspended = spec.SuspendMs > 0,
        };
        // Reply before a suspension takes effect, and lift it by itself: a suspended node hears nothing, not even "resume".
        Reply(from, new ClientReply { RequestId = r.RequestId });
        var generation = Interlocked.Increment(ref _faultGeneration);
        _transport.Faults = settings;
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
