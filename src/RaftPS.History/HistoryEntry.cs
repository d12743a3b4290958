namespace RaftPS.History;

/// <summary>One operation in a history file; <see cref="Return"/> is absent when the outcome is unknown.</summary>
internal sealed class HistoryEntry
{
    public int Client { get; set; }
    public KvOpKind? Kind { get; set; }
    public string? Key { get; set; }
    public string? Value { get; set; }
    public string? Output { get; set; }
    public long Call { get; set; }
    public long? Return { get; set; }
}
