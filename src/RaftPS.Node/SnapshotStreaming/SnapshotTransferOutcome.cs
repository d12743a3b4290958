namespace RaftPS.Node.SnapshotStreaming;

/// <summary>How a snapshot stream ended.</summary>
public enum SnapshotTransferOutcome
{
    /// <summary>The follower verified the whole and handed it to its event loop.</summary>
    Delivered,
    /// <summary>The follower stopped answering for <see cref="SnapshotStreamOptions.AbandonAfter"/>.</summary>
    Abandoned,
    /// <summary>The follower refused the stream.</summary>
    Refused,
    /// <summary>This node stopped leading, or shut down.</summary>
    Cancelled,
}
