using System.Text;
using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.StateMachine;

/// <summary>Builds commands and applies them at the next log index, as the node's apply loop does.</summary>
internal static class Kv
{
    public static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    public static string S(byte[] b) => Encoding.UTF8.GetString(b);

    public static KvCommand Put(ulong client, ulong seq, string key, string? value, long ts = 0) =>
        new(client, seq, ts, ClientOp.Put, key, value is null ? null : B(value), null, null);

    public static KvCommand Del(ulong client, ulong seq, string key, long ts = 0) =>
        new(client, seq, ts, ClientOp.Delete, key, null, null, null);

    public static KvCommand Cas(ulong client, ulong seq, string key, string? value, ulong? expectedVersion, string? expectedValue, long ts = 0) =>
        new(client, seq, ts, ClientOp.CompareAndSet, key, value is null ? null : B(value), expectedVersion,
            expectedValue is null ? null : B(expectedValue));

    public static KvResult Next(this KvStateMachine sm, KvCommand c) => sm.Apply(sm.AppliedIndex + 1, c);

    public static void NextNoop(this KvStateMachine sm) => sm.ApplyNoop(sm.AppliedIndex + 1);

    /// <summary>The value of <paramref name="key"/> as a string, or null when absent.</summary>
    public static string? Value(this KvStateMachine sm, string key) => sm.Get(key) is { } item ? S(item.Value) : null;

    /// <summary>
    /// A seeded mixed workload over few keys and clients: puts, deletes, CAS, retried duplicates, stale duplicates,
    /// sequence numbers that skip, and timestamps that sometimes go backwards, so sessions expire and get evicted.
    /// Entries of kind null are no-ops.
    /// </summary>
    public static List<KvCommand?> Workload(int seed, int count)
    {
        var rng = new Random(seed);
        var seq = new Dictionary<ulong, ulong>();
        var last = new Dictionary<ulong, KvCommand>();
        var list = new List<KvCommand?>(count);
        long ts = 1_000;
        for (int i = 0; i < count; i++)
        {
            ts += rng.Next(-50, 200);
            int roll = rng.Next(100);
            if (roll < 5)
            {
                list.Add(null);
                continue;
            }
            ulong client = (ulong)rng.Next(1, 9);
            if (roll < 20 && last.TryGetValue(client, out var prev))
            {
                list.Add(prev with { TimestampMs = ts }); // retry of the last request
                continue;
            }
            if (roll < 24 && last.TryGetValue(client, out var old) && old.Sequence > 1)
            {
                list.Add(old with { Sequence = old.Sequence - 1, TimestampMs = ts }); // stale duplicate
                continue;
            }
            ulong s = seq.GetValueOrDefault(client) + (ulong)(rng.Next(10) == 0 ? 2 : 1);
            seq[client] = s;
            string key = "k" + rng.Next(12);
            string value = "v" + rng.Next(1000);
            KvCommand c = rng.Next(10) switch
            {
                < 5 => Put(client, s, key, value, ts),
                < 7 => Del(client, s, key, ts),
                7 => Cas(client, s, key, value, (ulong)rng.Next(0, i + 2), null, ts),
                8 => Cas(client, s, key, value, null, "v" + rng.Next(1000), ts),
                _ => Cas(client, s, key, value, 0, null, ts),
            };
            last[client] = c;
            list.Add(c);
        }
        return list;
    }

    public static KvResult? ApplyEntry(this KvStateMachine sm, KvCommand? c)
    {
        if (c is null)
        {
            sm.NextNoop();
            return null;
        }
        return sm.Next(c);
    }
}
