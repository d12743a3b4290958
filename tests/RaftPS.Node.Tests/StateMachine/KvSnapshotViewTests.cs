using RaftPS.Node.StateMachine;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

/// <summary>The frozen view the loop hands to the background snapshot writer.</summary>
public class KvSnapshotViewTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(400)]
    [InlineData(1_200)]
    public void A_view_serializes_to_the_state_at_capture_time_whatever_is_applied_afterwards(int cut)
    {
        var log = Workload(seed: 11, count: 1_500);
        var live = new KvStateMachine(2_000, 5);
        for (int i = 0; i < cut; i++) live.ApplyEntry(log[i]);
        byte[] expected = live.TakeSnapshot();
        var view = live.CaptureSnapshot();
        Assert.Equal((ulong)cut, view.AppliedIndex);

        // Keep applying (overwrites, deletes, sessions expiring) before the view is serialized, as the loop does meanwhile.
        for (int i = cut; i < log.Count; i++) live.ApplyEntry(log[i]);
        Assert.Equal(expected, view.Serialize());

        var restored = new KvStateMachine(2_000, 5);
        restored.Restore(view.Serialize());
        Assert.Equal(expected, restored.TakeSnapshot());
    }
}
