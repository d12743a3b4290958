namespace RaftPS.Node.Storage;

/// <summary>Where one segment file's valid records end.</summary>
internal sealed class SegmentScan
{
    public required ulong Seq { get; init; }
    public required string Path { get; init; }
    public required SegmentHeader Header { get; init; }

    /// <summary>Bytes up to the end of the last valid record; appends continue here.</summary>
    public required long ValidLength { get; init; }

    /// <summary>
    /// Set when the segment holds bytes after <see cref="ValidLength"/> that no sync mark vouches for (a torn or
    /// out-of-order unsynced tail): they must be cut away, and the cut synced, before anything is appended.
    /// </summary>
    public string? TornTail { get; init; }
}
