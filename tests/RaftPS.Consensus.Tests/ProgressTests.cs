using RaftPS.Consensus;

namespace RaftPS.Consensus.Tests;

/// <summary>The leader's per-follower flow control (etcd-io/raft tracker).</summary>
public class ProgressTests
{
    private static Progress Make(ProgressState state, ulong match, ulong next, int maxInflight = 4)
    {
        var p = new Progress(next, maxInflight, isLearner: false) { Match = match };
        switch (state)
        {
            case ProgressState.Replicate:
                p.BecomeReplicate();
                p.Next = next;
                break;
            case ProgressState.Snapshot:
                p.BecomeSnapshot(next);
                break;
        }
        return p;
    }

    [Theory]
    // match, next, acked n -> updated, match, next
    [InlineData(2UL, 5UL, 1UL, false, 2UL, 5UL)] // stale ack
    [InlineData(2UL, 5UL, 2UL, false, 2UL, 5UL)] // duplicate ack
    [InlineData(2UL, 5UL, 4UL, true, 4UL, 5UL)]  // ack below next: next unchanged
    [InlineData(2UL, 5UL, 5UL, true, 5UL, 6UL)]
    [InlineData(2UL, 5UL, 9UL, true, 9UL, 10UL)] // ack beyond next moves next too
    public void MaybeUpdate(ulong match, ulong next, ulong n, bool updated, ulong wantMatch, ulong wantNext)
    {
        var p = Make(ProgressState.Probe, match, next);
        p.ProbeSent = true;
        Assert.Equal(updated, p.MaybeUpdate(n));
        Assert.Equal(wantMatch, p.Match);
        Assert.Equal(wantNext, p.Next);
        // Progress on the match point unblocks a probing follower.
        Assert.Equal(!updated, p.ProbeSent);
    }

    [Theory]
    // Replicate: a rejection for an index at or below match is stale (reordered datagram); otherwise next = match + 1.
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 5UL, 5UL, false, 10UL)]
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 4UL, 4UL, false, 10UL)]
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 9UL, 9UL, true, 6UL)]
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 7UL, 1UL, true, 6UL)]  // hint below match never moves under match
    // Probe: only the answer to the outstanding probe (for next - 1) counts.
    [InlineData(ProgressState.Probe, 0UL, 10UL, 8UL, 3UL, false, 10UL)]    // stale: not for next-1
    [InlineData(ProgressState.Probe, 0UL, 10UL, 10UL, 3UL, false, 10UL)]   // not for next-1 either
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 9UL, true, 9UL)]      // hint at the rejected index: back off one
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 3UL, true, 4UL)]      // hint jumps back
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 20UL, true, 9UL)]     // hint beyond: still only back to rejected
    [InlineData(ProgressState.Probe, 5UL, 10UL, 9UL, 2UL, true, 6UL)]      // never below match + 1
    [InlineData(ProgressState.Probe, 0UL, 1UL, 0UL, 0UL, true, 1UL)]
    public void MaybeDecrTo(ProgressState state, ulong match, ulong next, ulong rejected, ulong hint, bool changed, ulong wantNext)
    {
        var p = Make(state, match, next);
        if (state == ProgressState.Probe) p.ProbeSent = true;
        Assert.Equal(changed, p.MaybeDecrTo(rejected, hint));
        Assert.Equal(wantNext, p.Next);
        Assert.Equal(match, p.Match);
        if (state == ProgressState.Probe) Assert.Equal(!changed, p.ProbeSent);
    }

    [Theory]
    [InlineData(ProgressState.Probe, false, 0, false)]
    [InlineData(ProgressState.Probe, true, 0, true)]
    [InlineData(ProgressState.Replicate, false, 0, false)]
    [InlineData(ProgressState.Replicate, false, 3, false)]
    [InlineData(ProgressState.Replicate, false, 4, true)] // window of 4 full
    [InlineData(ProgressState.Snapshot, false, 0, true)]
    public void IsPaused(ProgressState state, bool probeSent, int inflight, bool paused)
    {
        var p = Make(state, 1, 2, maxInflight: 4);
        p.ProbeSent = probeSent;
        for (int i = 0; i < inflight; i++) p.Inflights.Add(2 + (ulong)i);
        Assert.Equal(paused, p.IsPaused);
    }

    [Fact]
    public void SentEntriesInProbePausesUntilAnswered()
    {
        var p = Make(ProgressState.Probe, 0, 5);
        p.SentEntries(0, 4);
        Assert.True(p.IsPaused);
        Assert.Equal(5UL, p.Next); // probe does not move next optimistically
        Assert.True(p.MaybeUpdate(4));
        Assert.False(p.IsPaused);
    }

    [Fact]
    public void SentEntriesInReplicateMovesNextAndFillsWindow()
    {
        var p = Make(ProgressState.Replicate, 4, 5, maxInflight: 2);
        p.SentEntries(3, 7);
        Assert.Equal(8UL, p.Next);
        Assert.False(p.IsPaused);
        p.SentEntries(0, 7); // empty append: not counted
        Assert.Equal(1, p.Inflights.Count);
        p.SentEntries(2, 9);
        Assert.Equal(10UL, p.Next);
        Assert.True(p.IsPaused);
        p.Inflights.FreeLE(7);
        Assert.False(p.IsPaused);
    }

    [Theory]
    [InlineData(new ulong[] { 3, 5, 8 }, 2UL, 3)]
    [InlineData(new ulong[] { 3, 5, 8 }, 3UL, 2)]
    [InlineData(new ulong[] { 3, 5, 8 }, 6UL, 1)]
    [InlineData(new ulong[] { 3, 5, 8 }, 8UL, 0)]
    [InlineData(new ulong[] { 3, 5, 8 }, 100UL, 0)]
    [InlineData(new ulong[] { }, 5UL, 0)]
    public void InflightsFreeLE(ulong[] sent, ulong freeTo, int remaining)
    {
        var inf = new Inflights(8);
        foreach (var s in sent) inf.Add(s);
        inf.FreeLE(freeTo);
        Assert.Equal(remaining, inf.Count);
    }

    [Fact]
    public void InflightsCapacity()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Inflights(0));
        var inf = new Inflights(2);
        inf.Add(1);
        Assert.False(inf.Full);
        inf.Add(2);
        Assert.True(inf.Full);
        inf.Reset();
        Assert.Equal(0, inf.Count);
    }

    [Theory]
    // pending snapshot index, match -> next after becoming probe
    [InlineData(10UL, 0UL, 11UL)]
    [InlineData(10UL, 12UL, 13UL)]
    public void ProbeAfterSnapshotResumesPastIt(ulong pending, ulong match, ulong wantNext)
    {
        var p = new Progress(1, 4, false) { Match = match };
        p.BecomeSnapshot(pending);
        Assert.True(p.IsPaused);
        p.BecomeProbe();
        Assert.Equal(ProgressState.Probe, p.State);
        Assert.Equal(wantNext, p.Next);
        Assert.Equal(0UL, p.PendingSnapshot);
    }

    [Fact]
    public void BecomeReplicateResetsWindowAndNext()
    {
        var p = new Progress(9, 4, false) { Match = 6 };
        p.BecomeReplicate();
        p.SentEntries(1, 7);
        p.BecomeProbe();
        Assert.Equal(0, p.Inflights.Count);
        Assert.Equal(7UL, p.Next);
        p.BecomeReplicate();
        Assert.Equal(7UL, p.Next);
    }
}
