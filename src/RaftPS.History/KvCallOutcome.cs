namespace RaftPS.History;

/// <summary>How a client call ended, as far as the client can know.</summary>
public enum KvCallOutcome
{
    /// <summary>The store acknowledged it.</summary>
    Ok,
    /// <summary>The store certainly did not apply it (refused, no leader reachable before sending).</summary>
    NotApplied,
    /// <summary>It may or may not have been applied (timed out, cancelled, connection lost after sending).</summary>
    Unknown,
}
