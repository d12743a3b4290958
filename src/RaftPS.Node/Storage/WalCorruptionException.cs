namespace RaftPS.Node.Storage;

/// <summary>
/// Damage inside the write-ahead log that cannot be a torn write at its tail. The node must not start on
/// this data: dropping the damaged part could lose committed entries.
/// </summary>
public sealed class WalCorruptionException : Exception
{
    public WalCorruptionException(string file, long offset, string reason)
        : base($"write-ahead log corrupt in '{file}' at byte offset {offset}: {reason}")
    {
        File = file;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>Full path of the damaged segment file.</summary>
    public string File { get; }

    /// <summary>Byte offset in <see cref="File"/> of the first damaged record.</summary>
    public long Offset { get; }

    public string Reason { get; }
}
