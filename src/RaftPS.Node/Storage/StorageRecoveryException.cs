namespace RaftPS.Node.Storage;

/// <summary>
/// The data directory cannot be recovered as a whole, although no single WAL record is damaged: for example the
/// newest snapshot is corrupt and the log no longer reaches back to an older one, or the log ends before the
/// persisted commit index.
/// </summary>
public sealed class StorageRecoveryException : Exception
{
    public StorageRecoveryException(string message) : base(message) { }
    public StorageRecoveryException(string message, Exception inner) : base(message, inner) { }
}
