using System.Globalization;
using System.Net;
using RaftPS.Protocol;

namespace RaftPS.Bench;

/// <summary>What the bench measures.</summary>
public enum BenchMode
{
    /// <summary>Writes of random keys.</summary>
    Put,
    /// <summary>Linearizable (ReadIndex) reads of preloaded keys.</summary>
    Get,
    /// <summary>Stale reads of preloaded keys, served by any node.</summary>
    GetStale,
    /// <summary>Writes while the leader is killed with SIGKILL; reports the time to the next committed write.</summary>
    Failover,
    /// <summary>Two empty servers join the running cluster; reports the time until both are voters.</summary>
    AddMembers,
    /// <summary>An empty server joins a cluster holding --state-mb of data and catches up by a streamed snapshot under write load.</summary>
    SnapshotCatchup,
}

/// <summary>A command line the bench cannot run; printed with the usage text, exit code 2.</summary>
public sealed class BenchUsageException(string message) : Exception(message);

/// <summary>Parsed command line. Every instance is validated.</summary>
public sealed record BenchOptions
{
    public BenchMode Mode { get; init; } = BenchMode.Put;
    public int Clients { get; init; } = 1;
    public long Ops { get; init; } = 10_000;
    public int ValueSize { get; init; } = 100;
    public int Keys { get; init; } = 10_000;
    public int Nodes { get; init; } = 3;
    /// <summary>An existing cluster to load instead of starting one.</summary>
    public IReadOnlyList<IPEndPoint>? Endpoints { get; init; }
    public string ClusterName { get; init; } = ClusterDefinition.DefaultClusterName;
    public string? ClusterKey { get; init; }
    /// <summary>Measure twice in one run, keyless and then with peer and client secrets (encrypted traffic), and report both.</summary>
    public bool Key { get; init; }
    /// <summary>raftps executable or raftps.dll; null means the Release build in the repository (built if missing).</summary>
    public string? RaftPsPath { get; init; }
    public bool Fsync { get; init; } = true;
    /// <summary>Unmeasured operations before the measured ones (JIT, connection warm-up, leader settled).</summary>
    public long Warmup { get; init; } = 1000;
    /// <summary>Puts written before warm-up so the log holds this many entries when measuring.</summary>
    public long LogEntries { get; init; }
    /// <summary>RaftClient instances the logical clients are spread over (each has its own socket and receive loop).</summary>
    public int ClientInstances { get; init; } = 1;
    /// <summary>Per-attempt timeout of the client; in failover mode it bounds how fast a client leaves the dead leader.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Directory under which the temporary cluster directory is created (must be a disk for fsync to mean anything).</summary>
    public string? WorkDirectory { get; init; }
    /// <summary>Keep the temporary directory (data and node logs) after the run, for inspection.</summary>
    public bool KeepData { get; init; }
    /// <summary>Extra arguments appended to every `raftps node` command line (e.g. --log-level info).</summary>
    public IReadOnlyList<string> NodeArgs { get; init; } = [];
    /// <summary>snapshot-catchup: MiB of values in the cluster before the new member joins.</summary>
    public int StateMb { get; init; } = 512;
    /// <summary>Failover: measured operations completed before the leader is killed.</summary>
    public long? KillAfter { get; init; }

    public bool External => Endpoints is not null;

    public const string Usage = """
        usage: dotnet run -c Release --project bench/RaftPS.Bench -- [options]
          --mode put|get|get-stale|failover|add-members|snapshot-catchup   what to measure (default put)
          --clients N          concurrent logical clients (default 1)
          --ops N              measured operations in total (default 10000)
          --value-size N       bytes per value (default 100)
          --keys N             distinct keys, chosen uniformly at random (default 10000)
          --nodes N            nodes of the local cluster (default 3)
          --endpoints H:P,...  load an existing cluster instead of starting one (not with failover)
          --cluster-name NAME  cluster name of an existing cluster (default raftps)
          --cluster-key KEY    client secret of an existing cluster
          --key                measure keyless, then encrypted (peer + client secrets), in the same run; JSON has both
          --raftps PATH        raftps executable or raftps.dll (default src/RaftPS.Cli/bin/Release/net10.0/raftps.dll)
          --no-fsync           start nodes with --no-fsync
          --warmup N           unmeasured operations first (default 1000)
          --log-entries N      preload N puts before measuring (log size experiments)
          --client-instances N RaftClient instances shared by the clients (default 1); with get-stale,
                               instance i prefers node i, so stale reads spread over the nodes
          --attempt-timeout-ms N  client per-attempt timeout (default 300)
          --kill-after N       failover: measured ops before the leader is killed (default ops/4)
          --work-dir DIR       where the temporary cluster directory goes (default the system temp dir)
          --keep-data          do not delete the temporary cluster directory (node logs are n1.log, ...)
          --node-arg ARG       extra argument for every `raftps node` (repeatable), e.g. --node-arg --log-level --node-arg info
          --state-mb N         snapshot-catchup: MiB of values written before a new member joins (default 512;
                               values of --value-size bytes, at least 4096, default 64 KiB)
        The last line on stdout is a JSON object with the results; progress goes to stderr.
        """;

    /// <exception cref="BenchUsageException">Unknown option, missing or malformed value, or an impossible combination.</exception>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count) throw new BenchUsageException($"option {name} needs a value");
                return args[++i];
            }
            o = name switch
            {
                "--mode" => o with { Mode = ParseMode(Value()) },
                "--clients" => o with { Clients = ParseInt(name, Value(), 1, 100_000) },
                "--ops" => o with { Ops = ParseLong(name, Value(), 1, 1_000_000_000) },
                "--value-size" => o with { ValueSize = ParseInt(name, Value(), 0, 16 << 20) },
                "--keys" => o with { Keys = ParseInt(name, Value(), 1, 100_000_000) },
                "--nodes" => o with { Nodes = ParseInt(name, Value(), 1, 15) },
                "--endpoints" => o with { Endpoints = ParseEndpoints(Value()) },
                "--cluster-name" => o with { ClusterName = Value() },
                "--cluster-key" => o with { ClusterKey = Value() },
                "--key" => o with { Key = true },
                "--raftps" => o with { RaftPsPath = Value() },
                "--no-fsync" => o with { Fsync = false },
                "--warmup" => o with { Warmup = ParseLong(name, Value(), 0, 1_000_000_000) },
                "--log-entries" => o with { LogEntries = ParseLong(name, Value(), 0, 1_000_000_000) },
                "--client-instances" => o with { ClientInstances = ParseInt(name, Value(), 1, 1024) },
                "--attempt-timeout-ms" => o with { AttemptTimeout = TimeSpan.FromMilliseconds(ParseInt(name, Value(), 1, 60_000)) },
                "--kill-after" => o with { KillAfter = ParseLong(name, Value(), 0, 1_000_000_000) },
                "--work-dir" => o with { WorkDirectory = Value() },
                "--keep-data" => o with { KeepData = true },
                "--node-arg" => o with { NodeArgs = [.. o.NodeArgs, Value()] },
                "--state-mb" => o with { StateMb = ParseInt(name, Value(), 1, 1 << 20) },
                "-h" or "--help" or "-?" => throw new BenchUsageException("help requested"),
                _ => throw new BenchUsageException($"unknown option '{name}'"),
            };
        }
        return o.Validate();
    }

    private BenchOptions Validate()
    {
        if (Mode == BenchMode.Failover)
        {
            if (External) throw new BenchUsageException("--mode failover starts and kills its own nodes; it cannot use --endpoints");
            if (Nodes < 3) throw new BenchUsageException("--mode failover needs --nodes 3 or more (a majority must survive the kill)");
            if (KillAfter is { } k && k >= Ops) throw new BenchUsageException("--kill-after must be smaller than --ops");
        }
        if (Mode == BenchMode.SnapshotCatchup && External) throw new BenchUsageException("--mode snapshot-catchup starts its own nodes; it cannot use --endpoints");
        if (Mode == BenchMode.AddMembers && External) throw new BenchUsageException("--mode add-members starts its own nodes; it cannot use --endpoints");
        if (External && NodeArgs.Count > 0) throw new BenchUsageException("--node-arg only applies to nodes the bench starts, not with --endpoints");
        if (ClientInstances > Clients) throw new BenchUsageException("--client-instances cannot exceed --clients");
        if (!ClusterDefinition.IsValidId(ClusterName)) throw new BenchUsageException($"--cluster-name '{ClusterName}' is not a valid cluster name");
        if (ClusterKey is { } key && string.IsNullOrWhiteSpace(key)) throw new BenchUsageException("--cluster-key must not be blank");
        if (Key && External) throw new BenchUsageException("--key starts its own clusters; it cannot use --endpoints");
        return this;
    }

    public static string ModeName(BenchMode mode) => mode switch
    {
        BenchMode.Put => "put",
        BenchMode.Get => "get",
        BenchMode.GetStale => "get-stale",
        BenchMode.Failover => "failover",
        BenchMode.AddMembers => "add-members",
        BenchMode.SnapshotCatchup => "snapshot-catchup",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static BenchMode ParseMode(string text) => text.ToLowerInvariant() switch
    {
        "put" => BenchMode.Put,
        "get" => BenchMode.Get,
        "get-stale" or "stale" => BenchMode.GetStale,
        "failover" => BenchMode.Failover,
        "add-members" => BenchMode.AddMembers,
        "snapshot-catchup" => BenchMode.SnapshotCatchup,
        _ => throw new BenchUsageException($"--mode '{text}' is not one of put, get, get-stale, failover, add-members, snapshot-catchup"),
    };

    private static IReadOnlyList<IPEndPoint> ParseEndpoints(string text)
    {
        try
        {
            return ClusterDefinition.ParseEndpoints(text);
        }
        catch (ClusterDefinitionException e)
        {
            throw new BenchUsageException($"--endpoints: {e.Message}");
        }
    }

    private static int ParseInt(string name, string text, int min, int max) => (int)ParseLong(name, text, min, max);

    private static long ParseLong(string name, string text, long min, long max)
    {
        // Accept 1_000_000 and 1e6-free shorthand like 10k / 1m, since runs are typed by hand.
        string t = text.Replace("_", "", StringComparison.Ordinal).Trim();
        long scale = 1;
        if (t.Length > 1 && char.ToLowerInvariant(t[^1]) is 'k' or 'm')
        {
            scale = char.ToLowerInvariant(t[^1]) == 'k' ? 1_000 : 1_000_000;
            t = t[..^1];
        }
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long v) || v > max / scale)
            throw new BenchUsageException($"{name} '{text}' is not a whole number from {min} to {max}");
        v *= scale;
        if (v < min || v > max) throw new BenchUsageException($"{name} {v} is out of range {min}..{max}");
        return v;
    }
}
