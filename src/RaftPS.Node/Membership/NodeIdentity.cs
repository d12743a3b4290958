using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftPS.Node.Membership;

/// <summary>
/// Who this node is, kept in its data directory (<c>node.json</c>) from the first start: a joiner's address and cluster
/// name are not in any log until it is added, and a restart should need only the id and the data directory.
/// </summary>
/// <param name="Joiner">Started with join: it never bootstraps a cluster of its own, even while its log is still empty.</param>
public sealed record NodeIdentity(string Cluster, string Id, string Host, int Port, bool Joiner = false)
{
    public const string FileName = "node.json";

    public static NodeIdentity? Load(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), NodeIdentityJson.Default.NodeIdentity)
                   ?? throw new InvalidDataException($"{path} is empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not a valid node identity file: {ex.Message}", ex);
        }
    }

    /// <summary>Writes the file atomically (temp, fsync, rename) so a crash leaves the old or the new one.</summary>
    public void Save(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(f, this, NodeIdentityJson.Default.NodeIdentity);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NodeIdentity))]
internal sealed partial class NodeIdentityJson : JsonSerializerContext;
