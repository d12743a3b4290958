namespace RaftPS.Protocol.Wire;

/// <summary>Datagram and reassembly limits plus the endpoint's keys (<see cref="Keyring"/>).</summary>
public sealed class WireOptions
{
    /// <summary>Largest UDP payload over IPv4 (65535 - 8 UDP - 20 IP).</summary>
    public const int MaxUdpPayload = 65507;
    public const int DefaultMaxDatagramSize = 60000;
    /// <summary>Small enough for any path MTU tweak, large enough that a chunk always carries real data.</summary>
    public const int MinDatagramSize = 512;

    public int MaxDatagramSize { get; init; } = DefaultMaxDatagramSize;

    /// <summary>
    /// The keys this endpoint seals and opens datagrams with; null or empty for plaintext. Its cluster id must be the
    /// cluster id of the traffic (keys are derived per cluster).
    /// </summary>
    public Keyring? Keys { get; init; }

    /// <summary>Largest message (after reassembly) accepted or sent.</summary>
    public int MaxMessageSize { get; init; } = 64 << 20;

    /// <summary>Most partially received messages kept at once; the least recently active is evicted beyond it.</summary>
    public int MaxInProgressMessages { get; init; } = 64;

    /// <summary>Total bytes held by partial messages across all senders.</summary>
    public long MaxReassemblyBytes { get; init; } = 256L << 20;

    /// <summary>A partial message with no new chunk for this long is evicted.</summary>
    public TimeSpan ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public bool IsSealed => Keys is { IsEmpty: false };

    /// <summary>Bytes of payload one datagram can carry under these options (room for the tag when keyed).</summary>
    public int MaxChunkPayload => MaxDatagramSize - Datagram.HeaderSize - (IsSealed ? Datagram.TagSize : 0);

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for settings that cannot work.</summary>
    public WireOptions Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDatagramSize, MinDatagramSize, nameof(MaxDatagramSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDatagramSize, MaxUdpPayload, nameof(MaxDatagramSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageSize, 1, nameof(MaxMessageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInProgressMessages, 1, nameof(MaxInProgressMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReassemblyBytes, 1, nameof(MaxReassemblyBytes));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ReassemblyTimeout, TimeSpan.Zero, nameof(ReassemblyTimeout));
        return this;
    }
}
