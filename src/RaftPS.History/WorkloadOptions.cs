using System.Security.Cryptography;

namespace RaftPS.History;

/// <summary>
/// Shape of a <see cref="KvWorkload"/>: how many concurrent clients, how many shared register keys, the mix of reads,
/// register writes and ledger writes (keys written exactly once, so a lost acknowledged write is visible by reading
/// them back), and a pause between each client's operations so the load stays bounded on small machines.
/// </summary>
public sealed record WorkloadOptions
{
    public int Clients { get; init; } = 4;
    public int RegisterKeys { get; init; } = 4;
    /// <summary>Percent of operations that are linearizable reads of a register key.</summary>
    public int ReadPercent { get; init; } = 40;
    /// <summary>Percent of operations that write a fresh ledger key; the rest overwrite register keys.</summary>
    public int LedgerPercent { get; init; } = 30;
    /// <summary>Every key the workload touches starts with this; unique per workload by default.</summary>
    public string KeyPrefix { get; init; } = "workload/" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + "/";
    /// <summary>Pause after each operation of each client.</summary>
    public TimeSpan Pause { get; init; } = TimeSpan.FromMilliseconds(2);
    /// <summary>How long the closing read-back may keep retrying a key before calling it unverified.</summary>
    public TimeSpan FinalReadTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Seed of the operation mix (client i uses Seed + i).</summary>
    public int Seed { get; init; } = Environment.TickCount;

    /// <summary>Returns this instance when every setting is in range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public WorkloadOptions Validate()
    {
        Check(Clients is >= 1 and <= 64, nameof(Clients), Clients, "1..64");
        Check(RegisterKeys is >= 1 and <= 1000, nameof(RegisterKeys), RegisterKeys, "1..1000");
        Check(ReadPercent is >= 0 and <= 100, nameof(ReadPercent), ReadPercent, "0..100");
        Check(LedgerPercent is >= 0 and <= 100 && ReadPercent + LedgerPercent <= 100, nameof(LedgerPercent), LedgerPercent, "0..100 - ReadPercent");
        Check(!string.IsNullOrEmpty(KeyPrefix), nameof(KeyPrefix), KeyPrefix, "a non-empty string");
        Check(Pause >= TimeSpan.Zero && Pause <= TimeSpan.FromSeconds(10), nameof(Pause), Pause, "0..10 s");
        Check(FinalReadTimeout > TimeSpan.Zero, nameof(FinalReadTimeout), FinalReadTimeout, "positive");
        return this;
    }

    private static void Check(bool ok, string name, object? value, string range)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be {range}.");
        }
    }
}
