namespace RaftPS.History;

/// <summary>The kind of a key-value client operation.</summary>
public enum KvOpKind
{
    Put,
    Get,
    Delete,
}
