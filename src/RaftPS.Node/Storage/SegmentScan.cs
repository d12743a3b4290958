namespace RaftPS.Node.Storage;

/// <summary>Where one segment file's valid records end.</summary>
internal sealed class SegmentScan
{
    public required ulong Seq { get; init; }
    public required string Path { get; init; }
    public required SegmentHeader Header { get; init; }

    /// <summary>Bytes up to the end of the last valid record; appends continue here.</summary>
    public required long ValidLength { get; init; }

    /// <summary>Set when a torn record was found after <see cref="ValidLength"/> and must be cut away.</summary>
    public string? TornTail { get; init; }
}
