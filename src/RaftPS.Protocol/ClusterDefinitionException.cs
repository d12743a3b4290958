namespace RaftPS.Protocol;

/// <summary>What is wrong with a cluster definition (see <see cref="ClusterDefinitionException.Error"/>).</summary>
public enum ClusterDefinitionError
{
    /// <summary>Anything not covered below (e.g. a node id that is not a member, a host that does not resolve).</summary>
    Invalid = 0,
    /// <summary>The file could not be read.</summary>
    Unreadable,
    /// <summary>JSON that does not parse or does not fit the schema (unknown property, wrong type).</summary>
    InvalidJson,
    /// <summary>A text line that is neither a directive nor "id host port".</summary>
    InvalidSyntax,
    NoMembers,
    InvalidId,
    DuplicateId,
    InvalidHost,
    InvalidPort,
    /// <summary>Two members share host and port.</summary>
    DuplicateEndpoint,
    /// <summary>Two different ids hash to the same numeric node id (astronomically rare; rename one).</summary>
    NodeIdCollision,
    InvalidClusterName,
    InvalidKey,
    /// <summary>A "host:port" endpoint string (client endpoint list) that cannot be used.</summary>
    InvalidEndpoint,
}

/// <summary>
/// A cluster file or endpoint list is unusable. <see cref="Line"/> (1-based) and <see cref="MemberId"/> point at the
/// offending place when known; the message already contains them.
/// </summary>
public sealed class ClusterDefinitionException : Exception
{
    public ClusterDefinitionException(string message) : this(ClusterDefinitionError.Invalid, message) { }

    public ClusterDefinitionException(string message, Exception inner) : this(ClusterDefinitionError.Invalid, message, inner: inner) { }

    public ClusterDefinitionException(ClusterDefinitionError error, string message, int? line = null, string? memberId = null, string? filePath = null, Exception? inner = null)
        : base(Compose(message, line, filePath), inner)
    {
        Error = error;
        Line = line;
        MemberId = memberId;
        FilePath = filePath;
        Detail = message;
    }

    public ClusterDefinitionError Error { get; }
    /// <summary>1-based line in the file or text, when known.</summary>
    public int? Line { get; }
    /// <summary>The member the problem concerns, when known (its id, or "#n" for a member without a usable id).</summary>
    public string? MemberId { get; }
    /// <summary>The file, when the definition came from <see cref="ClusterDefinition.Load"/>.</summary>
    public string? FilePath { get; }
    /// <summary>The message without the location prefix.</summary>
    public string Detail { get; } = "";

    /// <summary>The same error attributed to <paramref name="path"/>.</summary>
    internal ClusterDefinitionException WithFile(string path) => new(Error, Detail, Line, MemberId, path, InnerException);

    private static string Compose(string message, int? line, string? filePath) =>
        (filePath, line) switch
        {
            (not null, not null) => $"{filePath}:{line}: {message}",
            (not null, null) => $"{filePath}: {message}",
            (null, not null) => $"line {line}: {message}",
            _ => message,
        };
}
