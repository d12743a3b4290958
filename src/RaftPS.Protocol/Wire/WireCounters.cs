namespace RaftPS.Protocol.Wire;

/// <summary>Lock-free traffic counters shared by a receiver, a framer's sender and fault injection.</summary>
public sealed class WireCounters
{
    private static readonly int ReasonCount = Enum.GetValues<DropReason>().Length;

    private readonly long[] _dropped = new long[ReasonCount];
    private long _received;
    private long _sent;
    private long _messagesReceived;
    private long _sendErrors;
    private long _receiveErrors;

    public long DatagramsReceived => Interlocked.Read(ref _received);
    public long DatagramsSent => Interlocked.Read(ref _sent);
    /// <summary>Complete messages delivered after parsing and reassembly.</summary>
    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);
    /// <summary>Socket errors on send (the datagram is lost, as UDP would lose it).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);
    /// <summary>Socket errors on receive that the loop survived (e.g. ICMP port unreachable).</summary>
    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    public long Dropped(DropReason reason) => Interlocked.Read(ref _dropped[(int)reason]);

    public long DroppedTotal
    {
        get
        {
            long sum = 0;
            for (int i = 1; i < _dropped.Length; i++) sum += Interlocked.Read(ref _dropped[i]);
            return sum;
        }
    }

    public void CountReceived() => Interlocked.Increment(ref _received);
    public void CountSent() => Interlocked.Increment(ref _sent);
    public void CountMessageReceived() => Interlocked.Increment(ref _messagesReceived);
    public void CountSendError() => Interlocked.Increment(ref _sendErrors);
    public void CountReceiveError() => Interlocked.Increment(ref _receiveErrors);

    public void CountDrop(DropReason reason, long count = 1)
    {
        if (reason != DropReason.None && count > 0) Interlocked.Add(ref _dropped[(int)reason], count);
    }

    /// <summary>Non-zero drop counts by reason, for logs and status output.</summary>
    public IReadOnlyDictionary<DropReason, long> DropsByReason()
    {
        var d = new Dictionary<DropReason, long>();
        for (int i = 1; i < _dropped.Length; i++)
        {
            long v = Interlocked.Read(ref _dropped[i]);
            if (v != 0) d[(DropReason)i] = v;
        }
        return d;
    }

    public override string ToString() =>
        $"rx {DatagramsReceived} tx {DatagramsSent} msgs {MessagesReceived} dropped {DroppedTotal}" +
        string.Concat(DropsByReason().Select(kv => $" {kv.Key}={kv.Value}"));
}
