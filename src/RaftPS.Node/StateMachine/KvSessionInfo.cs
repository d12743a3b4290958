namespace RaftPS.Node.StateMachine;

/// <summary>One client's session as the replicated state holds it (for diagnostics and tests).</summary>
public sealed record KvSessionInfo(ulong ClientId, ulong LastSequence, long LastSeenMs, KvResult LastResult);
