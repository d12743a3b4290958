using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace RaftPS.Client;

/// <summary>
/// One client session (Raft thesis §6.3): a random client id and the next sequence number. A lane carries one write
/// at a time, and every retry of that write reuses the same (ClientId, Sequence) so the cluster applies it once.
/// </summary>
internal sealed class SessionLane
{
    public SessionLane() => Renew();

    public ulong ClientId { get; private set; }
    /// <summary>Sequence of the write in progress (or of the next write).</summary>
    public ulong Sequence { get; private set; }
    /// <summary>The current sequence has been put on the wire, so the cluster may know it.</summary>
    public bool Sent { get; set; }

    /// <summary>The current write got a definitive answer: the next write uses the next sequence.</summary>
    public void Advance()
    {
        Sequence++;
        Sent = false;
    }

    /// <summary>
    /// Starts a new session identity. Used when the current sequence is unresolved (its outcome unknown) or its session
    /// expired: the old (ClientId, Sequence) pair must never carry a different request.
    /// </summary>
    public void Renew()
    {
        ClientId = NewClientId();
        Sequence = 1;
        Sent = false;
    }

    private static ulong NewClientId()
    {
        Span<byte> b = stackalloc byte[8];
        ulong id;
        do
        {
            // Cryptographic randomness: ids must not collide across processes started at the same instant.
            RandomNumberGenerator.Fill(b);
            id = BitConverter.ToUInt64(b);
        } while (id == 0);
        return id;
    }
}

/// <summary>A bounded pool of lanes; writers wait for a free one. Lock-free on the fast path.</summary>
internal sealed class SessionLanes
{
    private readonly SemaphoreSlim _slots;
    // A stack keeps reusing the same few lanes under light load, so the cluster holds few sessions.
    private readonly ConcurrentStack<SessionLane> _free = new();
    private long _renewed;

    public SessionLanes(int maxLanes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLanes, 1);
        MaxLanes = maxLanes;
        _slots = new SemaphoreSlim(maxLanes, maxLanes);
    }

    public int MaxLanes { get; }
    /// <summary>Lanes whose identity was renewed because a write's outcome was unresolved or its session expired.</summary>
    public long Renewed => Interlocked.Read(ref _renewed);

    public async ValueTask<SessionLane> AcquireAsync(CancellationToken ct)
    {
        var wait = _slots.WaitAsync(ct);
        if (!wait.IsCompletedSuccessfully) await wait.ConfigureAwait(false);
        return _free.TryPop(out var lane) ? lane : new SessionLane();
    }

    public void Renew(SessionLane lane)
    {
        lane.Renew();
        Interlocked.Increment(ref _renewed);
    }

    public void Release(SessionLane lane)
    {
        _free.Push(lane);
        _slots.Release();
    }
}
