namespace RaftPS.Node.SnapshotStreaming;

/// <summary>
/// One snapshot stream from the leader to one follower: go-back-N over a window of chunks with cumulative
/// acknowledgements. Mutable; every field is guarded by locking the instance (the sender's pump thread and the
/// transport's receive thread both touch it).
/// </summary>
internal sealed class OutgoingTransfer(ulong to, SnapshotStreamSource source, int chunkSize, long now, int rtoMs)
{
    public ulong To { get; } = to;
    public SnapshotStreamSource Source { get; } = source;
    public int ChunkSize { get; } = chunkSize;
    public long StartedAt { get; } = now;
    public ulong SnapshotIndex => Source.Message.Snapshot!.Index;
    public ulong SnapshotTerm => Source.Message.Snapshot!.Term;

    /// <summary>Random, so a stream restarted after a corrupt delivery or by a new leader is never mistaken for an old one.</summary>
    public ulong TransferId { get; set; } = NewId();
    /// <summary>Bytes from the start the follower has on disk.</summary>
    public long Acked { get; set; }
    /// <summary>Offset of the next chunk to send; moves back to <see cref="Acked"/> when the retransmission timer expires.</summary>
    public long Next { get; set; }
    /// <summary>Bytes the follower lets us have in flight (its last acknowledgement's credit).</summary>
    public int Credit { get; set; } = int.MaxValue;
    public long LastHeardAt { get; set; } = now;
    public long LastProgressAt { get; set; } = now;
    public long LastSendAt { get; set; } = now;
    public int RtoMs { get; set; } = rtoMs;
    public int DuplicateAcks { get; set; }
    /// <summary>Offset to resend at once (three duplicate acknowledgements: that chunk was lost), or -1.</summary>
    public long FastRetransmit { get; set; } = -1;
    public long BytesSent { get; set; }
    public int Retransmits { get; set; }
    public int Restarts { get; set; }
    /// <summary>Set once the transfer ended; the pump then drops it.</summary>
    public SnapshotTransferOutcome? Outcome { get; set; }

    public long Length => Source.Length;

    public static ulong NewId() => (ulong)Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>Starts the stream over under a new id (the follower found the whole corrupt).</summary>
    public void Restart(long now)
    {
        TransferId = NewId();
        Acked = Next = 0;
        LastProgressAt = LastSendAt = now;
        FastRetransmit = -1;
        DuplicateAcks = 0;
        Restarts++;
    }
}
