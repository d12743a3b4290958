namespace RaftPS.Node.StateMachine;

/// <summary>One client session as captured for a snapshot (see <see cref="KvStateMachine.CaptureSnapshot"/>).</summary>
/// <param name="ResultIsCurrent">The cached result's item is still its key's current item, so the snapshot refers to it instead of copying the value.</param>
public readonly record struct KvSessionImage(ulong ClientId, ulong LastSequence, long LastSeenMs, KvResult LastResult, bool ResultIsCurrent);
