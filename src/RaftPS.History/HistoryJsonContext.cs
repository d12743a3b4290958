using System.Text.Json.Serialization;

namespace RaftPS.History;

/// <summary>Source-generated (reflection-free, trimming-safe) JSON for history files.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HistoryDocument))]
internal sealed partial class HistoryJsonContext : JsonSerializerContext
{
}
