namespace RaftPS.History;

/// <summary>The JSON shape of a history file (see <see cref="HistoryFile"/>).</summary>
internal sealed class HistoryDocument
{
    public string? Format { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public string? TimeUnit { get; set; }
    public List<HistoryEntry>? Operations { get; set; }
}
