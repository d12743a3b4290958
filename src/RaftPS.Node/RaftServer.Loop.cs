using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RaftPS.Consensus;

namespace RaftPS.Node;

/// <summary>The event loop: drain queued events, tick, then one persistence round per batch.</summary>
public sealed partial class RaftServer
{
    private const int MaxEventsPerBatch = 4096;

    private void RunLoopThread()
    {
        try
        {
            RunLoop();
            _loopDone.TrySetResult();
        }
        catch (Exception ex)
        {
            // Fail-stop: after a storage or invariant failure the node must not keep answering.
            _log.LogCritical(ex, "node {Node} stopped: {Message}", _self.Id, ex.Message);
            _closed = true;
            _stop.Cancel();
            _loopDone.TrySetException(ex);
        }
    }

    private void RunLoop()
    {
        // Ticks come from the loop's own clock instead of a timer thread posting events: no extra wake-ups, and a loop
        // that fell behind (a slow fsync) gets one tick instead of a burst that could expire an election timeout
        // before the heartbeats queued meanwhile are seen.
        long interval = Math.Max(1, (long)(_options.TickInterval.TotalSeconds * Stopwatch.Frequency));
        long nextTick = Stopwatch.GetTimestamp() + interval;
        while (!_stop.IsCancellationRequested)
        {
            // Reset before draining: an event enqueued after the drain finds the signal cleared and sets it again.
            _wake.Reset();
            long now = Stopwatch.GetTimestamp();
            bool ticked = now >= nextTick;
            if (ticked)
            {
                nextTick += interval;
                if (nextTick <= now) nextTick = now + interval;
            }
            // Drain what is queued, then do one round of persistence: every write accepted in this round shares one
            // fsync (group commit) and one append message per follower.
            int n = 0;
            for (; n < MaxEventsPerBatch && _events.TryDequeue(out var ev); n++) Handle(ev);
            if (ticked) Handle(LoopEvent.Tick.Instance);
            if (n > 0 || ticked)
            {
                FlushBatches();
                AdvanceMembership();
                ProposeReplicatedSettings();
                ProposeCheckpoint();
                ProcessReady();
                // A step-down (e.g. CheckQuorum) need not produce a Ready; answer the waiting clients anyway.
                NoticeRoleChanges();
                PublishStatus();
                continue;
            }
            long waitTicks = nextTick - Stopwatch.GetTimestamp();
            if (waitTicks > 0) _wake.Wait((int)Math.Max(1, (waitTicks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
        }
    }

    private void Handle(LoopEvent ev)
    {
        switch (ev)
        {
            case LoopEvent.Peer p:
                if (p.FromWire) Interlocked.Decrement(ref _queuedPeerMessages);
                if (!IsWellFormedPeerMessage(p.Message)) break;
                if (_removedByNotice && p.Message.Type is MessageType.Append or MessageType.Heartbeat && p.Message.Term >= _raft.Term) UndoRemovedNotice();
                _raft.Step(p.Message);
                break;
            case LoopEvent.Client c:
                Interlocked.Decrement(ref _queuedClientRequests);
                HandleClient(c.Request, c.From);
                break;
            case LoopEvent.Tick:
                // A removed server stays silent: its elections would only be refused (thesis §4.2.3).
                if (!_removed) _raft.Tick();
                break;
            case LoopEvent.Invoke i:
                i.Action();
                break;
        }
    }

    /// <summary>
    /// Peers are authenticated by the transport (cluster id, sender, optional key), but a datagram can still carry a
    /// message a correct peer never sends; those are dropped here instead of reaching the core. Removed servers are
    /// refused. A sender this node does not know yet is accepted: it may be a member added by a configuration entry this
    /// node has not received (refusing it would keep a lagging follower from ever learning of its new leader).
    /// </summary>
    /// Every field is checked (<see cref="PeerMessageValidator"/>) against the current log before the core sees it; drops are counted.
    private bool IsWellFormedPeerMessage(Message m)
    {
        // A server that never received entries from a leader (its log is at most the bootstrap entry) cannot tell "new"
        // from "lost its data" (an emptied data directory): it must not help elect a candidate that has entries it may
        // have acknowledged before, or a committed entry can be overwritten. Fresh clusters still elect: there every
        // candidate's log is the bootstrap entry too.
        bool blankVoter = m.Type is MessageType.Vote or MessageType.PreVote && _raft.Log.LastIndex <= 1 && m.Index > 1;
        if (!blankVoter && !RefuseRemovedServer(m.From) && PeerMessageValidator.Validate(m, _self.NodeId) is null
            && PeerMessageValidator.FitsLocalLog(m, _raft.Log.LastIndex)) return true;
        if (!blankVoter) _transport.Counters.CountDrop(Protocol.Wire.DropReason.InvalidPeerMessage);
        return false;
    }
}
