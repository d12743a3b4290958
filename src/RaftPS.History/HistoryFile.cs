using System.Text.Json;

namespace RaftPS.History;

/// <summary>
/// History files: JSON, so a failed drill's history can be attached to a bug report and re-checked later.
/// <code>
/// { "format": "raftps-history/1", "startedAt": "2026-12-01T22:00:00+00:00", "timeUnit": "microseconds",
///   "operations": [ { "client": 0, "kind": "Put", "key": "k", "value": "v", "call": 10, "return": 42 },
///                   { "client": 1, "kind": "Get", "key": "k", "output": "v", "call": 50, "return": 61 },
///                   { "client": 2, "kind": "Put", "key": "k", "value": "w", "call": 70 } ] }
/// </code>
/// An operation without "return" has an unknown outcome; a Get without "output" read an absent key.
/// </summary>
public static class HistoryFile
{
    /// <summary>The format tag written into and required from every file.</summary>
    public const string Format = "raftps-history/1";

    private const string TimeUnit = "microseconds";

    /// <summary>Writes <paramref name="history"/> to <paramref name="path"/> (temp file, then rename: never half a file).</summary>
    /// <exception cref="ArgumentException">path is empty.</exception>
    public static void Save(string path, OperationHistory history)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(history);
        var document = new HistoryDocument
        {
            Format = Format,
            StartedAt = history.StartedAt,
            TimeUnit = TimeUnit,
            Operations = history.Operations.Select(ToEntry).ToList(),
        };
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        using (var stream = File.Create(temp))
        {
            JsonSerializer.Serialize(stream, document, HistoryJsonContext.Default.HistoryDocument);
        }
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Reads a history file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="HistoryFormatException">Not a valid history file; the message says what and where.</exception>
    public static OperationHistory Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        HistoryDocument? document;
        try
        {
            using var stream = File.OpenRead(path);
            document = JsonSerializer.Deserialize(stream, HistoryJsonContext.Default.HistoryDocument);
        }
        catch (JsonException e)
        {
            throw new HistoryFormatException($"{path} is not a history file: {e.Message}", e);
        }
        if (document is null || document.Format != Format)
        {
            throw new HistoryFormatException($"{path} is not a history file: expected \"format\": \"{Format}\", found {(document?.Format is null ? "none" : "\"" + document.Format + "\"")}.");
        }
        if (document.TimeUnit is not null && document.TimeUnit != TimeUnit)
        {
            throw new HistoryFormatException($"{path}: unsupported time unit \"{document.TimeUnit}\" (expected \"{TimeUnit}\").");
        }
        var entries = document.Operations ?? [];
        var operations = new List<KvOperation>(entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            operations.Add(FromEntry(entries[i], i, path));
        }
        return new OperationHistory(document.StartedAt, operations);
    }

    private static HistoryEntry ToEntry(KvOperation op) => new()
    {
        Client = op.ClientId,
        Kind = op.Kind,
        Key = op.Key,
        Value = op.Value,
        Output = op.Output,
        Call = op.Call,
        Return = op.Completed ? op.Return : null,
    };

    private static KvOperation FromEntry(HistoryEntry? e, int index, string path)
    {
        string where = $"{path}: operation #{index}";
        if (e is null)
        {
            throw new HistoryFormatException($"{where} is null.");
        }
        if (e.Kind is not { } kind || !Enum.IsDefined(kind))
        {
            throw new HistoryFormatException($"{where} has no valid \"kind\" (Put, Get or Delete).");
        }
        if (string.IsNullOrEmpty(e.Key))
        {
            throw new HistoryFormatException($"{where} has no \"key\".");
        }
        if (kind == KvOpKind.Put && e.Value is null)
        {
            throw new HistoryFormatException($"{where} is a Put without a \"value\".");
        }
        if (e.Return is { } ret && ret < e.Call)
        {
            throw new HistoryFormatException($"{where} returns at {ret}, before its call at {e.Call}.");
        }
        return e.Return is { } r
            ? new KvOperation(e.Client, kind, e.Key, e.Value, e.Output, e.Call, r, true)
            : new KvOperation(e.Client, kind, e.Key, e.Value, e.Output, e.Call, long.MaxValue, false);
    }
}
