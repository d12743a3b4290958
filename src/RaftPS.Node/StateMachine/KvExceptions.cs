namespace RaftPS.Node.StateMachine;

/// <summary>Bytes handed to the state machine layer (a command or a snapshot) are malformed or damaged.</summary>
public abstract class KvDataException : FormatException
{
    protected KvDataException(string message) : base(message) { }
    protected KvDataException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>An encoded <see cref="KvCommand"/> could not be decoded.</summary>
public sealed class KvCommandFormatException : KvDataException
{
    public KvCommandFormatException(string message) : base(message) { }
    public KvCommandFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A state machine snapshot is damaged, truncated, of an unknown format, or internally inconsistent.</summary>
public sealed class KvSnapshotFormatException : KvDataException
{
    public KvSnapshotFormatException(string message) : base(message) { }
    public KvSnapshotFormatException(string message, Exception inner) : base(message, inner) { }
}
