namespace RaftPS.History;

/// <summary>How a client call ended, as far as the client can know.</summary>
/// <remarks>Unknown is the default (zero) value: a result nobody filled in must never read as success.</remarks>
public enum KvCallOutcome
{
    /// <summary>It may or may not have been applied (timed out, cancelled, connection lost after sending).</summary>
    Unknown,
    /// <summary>The store acknowledged it.</summary>
    Ok,
    /// <summary>The store certainly did not apply it (refused, no leader reachable before sending).</summary>
    NotApplied,
}
