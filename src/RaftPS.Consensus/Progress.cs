namespace RaftPS.Consensus;

/// <summary>How the leader is currently replicating to one follower (etcd-io/raft tracker).</summary>
public enum ProgressState
{
    /// <summary>One append at a time until the follower's match point is found.</summary>
    Probe,
    /// <summary>Match known: pipeline appends optimistically, bounded by <see cref="Inflights"/>.</summary>
    Replicate,
    /// <summary>Follower needs a snapshot; appends paused until it is acknowledged.</summary>
    Snapshot,
}

/// <summary>Bounded window of in-flight append messages to one follower, identified by their last index.</summary>
public sealed class Inflights
{
    private readonly Queue<ulong> _lastIndexes = new();

    public Inflights(int capacity)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        Capacity = capacity;
    }

    public int Capacity { get; }
    public int Count => _lastIndexes.Count;
    public bool Full => _lastIndexes.Count >= Capacity;

    public void Add(ulong lastIndex) => _lastIndexes.Enqueue(lastIndex);

    /// <summary>Frees every in-flight message whose last index is at or below <paramref name="index"/>.</summary>
    public void FreeLE(ulong index)
    {
        while (_lastIndexes.Count > 0 && _lastIndexes.Peek() <= index) _lastIndexes.Dequeue();
    }

    public void Reset() => _lastIndexes.Clear();
}

/// <summary>The leader's view of one follower: what it matches, what to send next, and the flow-control state.</summary>
public sealed class Progress
{
    public Progress(ulong next, int maxInflight, bool isLearner)
    {
        Next = next;
        Inflights = new Inflights(maxInflight);
        IsLearner = isLearner;
    }

    /// <summary>Highest index known to be replicated on the follower (paper Fig. 2, matchIndex).</summary>
    public ulong Match { get; set; }
    /// <summary>Next index to send (paper Fig. 2, nextIndex).</summary>
    public ulong Next { get; set; }
    public ProgressState State { get; private set; } = ProgressState.Probe;
    public ulong PendingSnapshot { get; private set; }
    /// <summary>In Probe state: an append is outstanding, wait for its answer or the next heartbeat reply.</summary>
    public bool ProbeSent { get; set; }
    /// <summary>Heard from since the last CheckQuorum round (thesis §6.2).</summary>
    public bool RecentActive { get; set; }
    public bool IsLearner { get; set; }
    /// <summary>
    /// Leader tick of the last response from this follower. Unlike <see cref="RecentActive"/>, which CheckQuorum clears
    /// every election timeout, it answers "heard from within the last N ticks" at any moment. Never heard: far past.
    /// </summary>
    public long LastHeardTick { get; set; } = long.MinValue / 2;
    public Inflights Inflights { get; }
    /// <summary>Leader tick at which Match last advanced or the state last changed; used to recover from lost datagrams.</summary>
    public long LastProgressTick { get; set; }

    public void BecomeProbe()
    {
        // After a snapshot the follower has at least the snapshot; resume just past it.
        if (State == ProgressState.Snapshot)
        {
            var pending = PendingSnapshot;
            ResetState(ProgressState.Probe);
            Next = Math.Max(Match + 1, pending + 1);
        }
        else
        {
            ResetState(ProgressState.Probe);
            Next = Match + 1;
        }
    }

    public void BecomeReplicate()
    {
        ResetState(ProgressState.Replicate);
        Next = Match + 1;
    }

    public void BecomeSnapshot(ulong snapshotIndex)
    {
        ResetState(ProgressState.Snapshot);
        PendingSnapshot = snapshotIndex;
    }

    private void ResetState(ProgressState state)
    {
        ProbeSent = false;
        PendingSnapshot = 0;
        State = state;
        Inflights.Reset();
    }

    /// <summary>Records an acknowledgement up to <paramref name="n"/>. Returns false if it is stale (already known).</summary>
    public bool MaybeUpdate(ulong n)
    {
        bool updated = false;
        if (Match < n)
        {
            Match = n;
            updated = true;
            ProbeSent = false;
        }
        Next = Math.Max(Next, n + 1);
        return updated;
    }

    /// <summary>
    /// Handles a rejected append for index <paramref name="rejected"/>; <paramref name="matchHint"/> is where to probe next
    /// (the follower's conflict hint, refined by the leader). Returns false if the rejection is stale: a reordered or
    /// duplicated datagram must not move Next backwards past what is already matched (paper §5.3).
    /// </summary>
    public bool MaybeDecrTo(ulong rejected, ulong matchHint)
    {
        if (State == ProgressState.Replicate)
        {
            if (rejected <= Match) return false;
            Next = Match + 1;
            return true;
        }
        // Probe: only the answer to the outstanding probe (for Next - 1) counts.
        if (Next == 0 || Next - 1 != rejected) return false;
        Next = Math.Max(Math.Min(rejected, matchHint + 1), Match + 1);
        ProbeSent = false;
        return true;
    }

    /// <summary>Whether the leader should hold back appends to this follower for now.</summary>
    public bool IsPaused => State switch
    {
        ProgressState.Probe => ProbeSent,
        ProgressState.Replicate => Inflights.Full,
        _ => true,
    };

    /// <summary>Records that an append carrying entries up to <paramref name="lastIndex"/> (or none) was sent.</summary>
    public void SentEntries(int count, ulong lastIndex)
    {
        switch (State)
        {
            case ProgressState.Replicate:
                if (count > 0)
                {
                    Next = lastIndex + 1;
                    Inflights.Add(lastIndex);
                }
                break;
            case ProgressState.Probe:
                ProbeSent = true;
                break;
        }
    }

    public override string ToString() => $"{State} match={Match} next={Next}" + (State == ProgressState.Snapshot ? $" pending={PendingSnapshot}" : "") + (IsLearner ? " learner" : "");
}
