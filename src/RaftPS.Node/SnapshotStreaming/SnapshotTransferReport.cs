namespace RaftPS.Node.SnapshotStreaming;

/// <summary>A finished stream, for status and benchmarks.</summary>
public sealed record SnapshotTransferReport(
    ulong To, ulong SnapshotIndex, long Bytes, TimeSpan Elapsed, SnapshotTransferOutcome Outcome, long BytesSent, int Retransmits, int Restarts)
{
    /// <summary>Stream bytes per second over the whole transfer (checksum and follower verification included).</summary>
    public double BytesPerSecond => Elapsed > TimeSpan.Zero ? Bytes / Elapsed.TotalSeconds : 0;
}
