using System.Text.Json.Serialization;

namespace RaftPS.Bench;

/// <summary>The one JSON object printed as the last line of stdout.</summary>
public sealed record BenchResult
{
    [JsonPropertyName("system")] public string System { get; init; } = "raftps";
    [JsonPropertyName("mode")] public required string Mode { get; init; }
    [JsonPropertyName("nodes")] public required int Nodes { get; init; }
    [JsonPropertyName("clients")] public required int Clients { get; init; }
    [JsonPropertyName("client_instances")] public required int ClientInstances { get; init; }
    /// <summary>Measured operations requested.</summary>
    [JsonPropertyName("ops")] public required long Ops { get; init; }
    [JsonPropertyName("ok_ops")] public required long OkOps { get; init; }
    [JsonPropertyName("value_size")] public required int ValueSize { get; init; }
    [JsonPropertyName("keys")] public required int Keys { get; init; }
    [JsonPropertyName("warmup")] public required long Warmup { get; init; }
    [JsonPropertyName("log_entries")] public required long LogEntries { get; init; }
    /// <summary>The leader's last log index when the measured phase began.</summary>
    [JsonPropertyName("log_index")] public ulong? LogIndex { get; init; }
    [JsonPropertyName("seconds")] public required double Seconds { get; init; }
    [JsonPropertyName("ops_per_s")] public required double OpsPerSecond { get; init; }
    [JsonPropertyName("mean_ms")] public required double MeanMs { get; init; }
    [JsonPropertyName("p50_ms")] public required double P50Ms { get; init; }
    [JsonPropertyName("p90_ms")] public required double P90Ms { get; init; }
    [JsonPropertyName("p99_ms")] public required double P99Ms { get; init; }
    [JsonPropertyName("p999_ms")] public required double P999Ms { get; init; }
    [JsonPropertyName("max_ms")] public required double MaxMs { get; init; }
    [JsonPropertyName("errors")] public required long Errors { get; init; }
    /// <summary>Terms that began during the measured phase (0: one leader throughout; failover: at least 1).</summary>
    [JsonPropertyName("term_changes")] public required ulong TermChanges { get; init; }
    /// <summary>For a started cluster, how the nodes ran; for --endpoints, what the caller declared (the bench cannot see it).</summary>
    [JsonPropertyName("fsync")] public required bool Fsync { get; init; }
    /// <summary>Failover: kill of the leader to the first successful write issued after the kill.</summary>
    [JsonPropertyName("failover_ms")] public double? FailoverMs { get; init; }
    /// <summary>Failover: kill to the first status of a surviving node reporting itself leader of a newer term.</summary>
    [JsonPropertyName("election_ms")] public double? ElectionMs { get; init; }
    /// <summary>Failover: longest stretch after the kill with no successful completion at all.</summary>
    [JsonPropertyName("write_gap_ms")] public double? WriteGapMs { get; init; }
    [JsonPropertyName("killed_node")] public string? KilledNode { get; init; }
    /// <summary>
    /// CPU time per measured op (user + system, microseconds): of the bench process (the client side), of the node that
    /// led when the phase began, and of all other nodes together. Unlike throughput, hardly disturbed by other load on
    /// the host. Absent where a process was not observable for the whole phase (--endpoints, a killed node).
    /// </summary>
    [JsonPropertyName("cpu_us_per_op_client")] public double? CpuUsPerOpClient { get; init; }
    [JsonPropertyName("cpu_us_per_op_leader")] public double? CpuUsPerOpLeader { get; init; }
    [JsonPropertyName("cpu_us_per_op_followers")] public double? CpuUsPerOpFollowers { get; init; }
    /// <summary>CPU the bench and the nodes used during the measured phase, in cores (2.0 = two cores busy throughout).</summary>
    [JsonPropertyName("cpu_cores_used")] public double? CpuCoresUsed { get; init; }
    [JsonPropertyName("attempt_timeout_ms")] public required double AttemptTimeoutMs { get; init; }
    /// <summary>Client datagrams of the measured phase: sent, received, dropped (duplicates, late replies, malformed).</summary>
    [JsonPropertyName("datagrams_sent")] public required long DatagramsSent { get; init; }
    [JsonPropertyName("datagrams_received")] public required long DatagramsReceived { get; init; }
    [JsonPropertyName("datagrams_dropped")] public required long DatagramsDropped { get; init; }
    /// <summary>1-minute load average of the host just before the cluster started (Linux), to spot runs disturbed by other work.</summary>
    [JsonPropertyName("host_load")] public double? HostLoad { get; init; }
    [JsonPropertyName("cores")] public int Cores { get; init; } = Environment.ProcessorCount;
    [JsonPropertyName("runtime")] public string Runtime { get; init; } = Environment.Version.ToString();
    [JsonPropertyName("date")] public required string Date { get; init; }
}

/// <summary>Reflection-free serializer for <see cref="BenchResult"/>; one compact line.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchResult))]
[JsonSerializable(typeof(AddMembersResult))]
[JsonSerializable(typeof(SnapshotCatchupResult))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
