using System.Security.Cryptography;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// AES-GCM nonces that never repeat under one key: a random 64-bit epoch chosen per process start (and again whenever
/// the 32-bit counter runs out) followed by that counter. Two senders sharing a key (all clients of a cluster share the
/// client key) collide only if they draw the same epoch, about 2^-64 per pair. Receivers use (sender, epoch, counter)
/// for their replay windows. Thread-safe and lock-free except at the (rare) epoch change.
/// </summary>
public sealed class NonceSource
{
    public const int Size = 12;

    private sealed class Epoch(ulong value)
    {
        public readonly ulong Value = value;
        public long Counter;
    }

    private Epoch _epoch = NewEpoch();
    private readonly object _rollover = new();

    /// <summary>Writes the next (epoch, counter) nonce into <paramref name="nonce"/>.</summary>
    public void Next(Span<byte> nonce)
    {
        while (true)
        {
            var e = Volatile.Read(ref _epoch);
            long c = Interlocked.Increment(ref e.Counter);
            if (c <= uint.MaxValue)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(nonce, e.Value);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(nonce[8..], (uint)c);
                return;
            }
            lock (_rollover)
            {
                if (ReferenceEquals(_epoch, e)) Volatile.Write(ref _epoch, NewEpoch());
            }
        }
    }

    private static Epoch NewEpoch()
    {
        Span<byte> b = stackalloc byte[8];
        RandomNumberGenerator.Fill(b);
        return new Epoch(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b));
    }
}
