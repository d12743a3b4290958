namespace RaftPS.History;

/// <summary>A history file could not be read: not JSON, wrong format tag, or an operation that is malformed.</summary>
public sealed class HistoryFormatException : Exception
{
    public HistoryFormatException(string message) : base(message)
    {
    }

    public HistoryFormatException(string message, Exception? inner) : base(message, inner)
    {
    }
}
