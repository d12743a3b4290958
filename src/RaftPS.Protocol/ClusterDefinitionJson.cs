using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftPS.Protocol;

/// <summary>The JSON shape of a cluster file. Nullable everywhere so missing fields become clear errors, not defaults.</summary>
internal sealed class ClusterFileJson
{
    [JsonPropertyName("cluster")]
    public string? Cluster { get; set; }

    [JsonPropertyName("key")]
    public string? Key { get; set; }

    [JsonPropertyName("members")]
    public List<MemberJson?>? Members { get; set; }
}

internal sealed class MemberJson
{
    [JsonPropertyName("id")]
    public string? Id { get; set; }

    [JsonPropertyName("host")]
    public string? Host { get; set; }

    [JsonPropertyName("port")]
    public int? Port { get; set; }
}

/// <summary>
/// Source-generated (reflection-free, trimming-safe) serializer for cluster files. Unknown properties are errors so a
/// typo such as "prot" is reported instead of silently ignored; comments and trailing commas are tolerated since
/// people edit these files by hand.
/// </summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    AllowDuplicateProperties = false,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ClusterFileJson))]
internal sealed partial class ClusterDefinitionJsonContext : JsonSerializerContext;
