namespace RaftPS.Node.Storage;

/// <summary>Kind of a WAL record (see <see cref="WalFormat"/>).</summary>
internal enum RecordType : byte
{
    // 0 is never used so that a zero-filled (preallocated, never written) region cannot parse as a record.
    Entry = 1,
    HardState = 2,
    SegmentHeader = 3,

    /// <summary>"Every byte of this segment before me was durable when I was written" (see <see cref="WalFormat"/>).</summary>
    SyncMark = 4,
}
