namespace RaftPS.Node.SnapshotStreaming;

/// <summary>Flow control and timeouts of snapshot streams. Defaults suit a LAN or loopback.</summary>
public sealed record SnapshotStreamOptions
{
    /// <summary>
    /// Most bytes in flight (sent, not yet acknowledged) per transfer; the follower may grant less. Kept below the kernel's
    /// socket receive buffer, so a burst is absorbed rather than dropped.
    /// </summary>
    public int Window { get; init; } = 2 << 20;
    /// <summary>Data bytes per chunk; 0 = as many as one datagram carries.</summary>
    public int ChunkSize { get; init; }
    /// <summary>Retransmission timeout after the last acknowledged progress; doubles on each expiry up to <see cref="MaxRetransmitTimeout"/>.</summary>
    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxRetransmitTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>A transfer that hears nothing from its follower this long is dropped (the core asks again later).</summary>
    public TimeSpan AbandonAfter { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>The follower deletes a partial stream that received no chunk this long.</summary>
    public TimeSpan ReceiverIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// After a follower took a snapshot, the core may still repeat its request (its patience ran out while the stream was
    /// running): for this long, a request for the same snapshot to the same follower is not streamed again.
    /// </summary>
    public TimeSpan RepeatCooldown { get; init; } = TimeSpan.FromSeconds(5);

    internal SnapshotStreamOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Window, 1 << 16, nameof(Window));
        ArgumentOutOfRangeException.ThrowIfNegative(ChunkSize, nameof(ChunkSize));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetransmitTimeout, TimeSpan.Zero, nameof(RetransmitTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRetransmitTimeout, RetransmitTimeout, nameof(MaxRetransmitTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AbandonAfter, TimeSpan.Zero, nameof(AbandonAfter));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReceiverIdleTimeout, TimeSpan.Zero, nameof(ReceiverIdleTimeout));
        return this;
    }
}
