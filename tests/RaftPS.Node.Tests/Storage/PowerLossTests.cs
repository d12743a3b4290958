using RaftPS.Consensus;
using RaftPS.Node.Storage;
using Xunit.Abstractions;
using static RaftPS.Node.Tests.Storage.Kit;

namespace RaftPS.Node.Tests.Storage;

/// <summary>
/// Power loss on a page-level disk model (<see cref="PageDisk"/>), over many seeds: a random workload of appends,
/// truncations, hard states, syncs and snapshots on small segments; the power fails at a random point, any subset of
/// the unsynced pages persists, possibly torn, and recovery must (1) keep everything synced, (2) come back as the
/// log was at the last sync or after some record written since, never reporting unsynced damage as corruption, and
/// (3) still report damage in bytes a sync mark vouches for. Each seed crashes several times in a row.
/// </summary>
public class PowerLossTests(ITestOutputHelper output)
{
    private const int SeedsPerCase = 60;
    private const int CrashesPerSeed = 3;

    /// <summary>The log (from index 1) and hard state; what the storage must hold at some point in time.</summary>
    private sealed record State(List<Entry> Log, HardState Hs)
    {
        public ulong LastIndex => (ulong)Log.Count;

        public bool IsRecoveredAs(RecoveredState r, out string why)
        {
            ulong snap = r.Snapshot?.Index ?? 0;
            why = "";
            if (r.HardState != Hs) why = $"hard state {r.HardState}, expected {Hs}";
            else if (r.LastIndex != LastIndex) why = $"last index {r.LastIndex}, expected {LastIndex}";
            else if (snap > 0 && Log[(int)snap - 1].Term != r.Snapshot!.Term) why = $"snapshot term {r.Snapshot.Term} at {snap}";
            else if (r.Entries.Count != (int)(LastIndex - snap)) why = $"{r.Entries.Count} entries after snapshot {snap}";
            else
            {
                for (int i = 0; i < r.Entries.Count; i++)
                {
                    if (!Same(r.Entries[i], Log[(int)snap + i])) { why = $"entry {r.Entries[i].Index} differs"; break; }
                }
            }
            return why.Length == 0;
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    public void Power_loss_keeps_every_synced_record_cuts_only_the_unsynced_tail_and_reports_damage_in_durable_bytes(int chunk, bool preallocate)
    {
        int corruptionChecks = 0, cutsWithValidRecordsAfter = 0;
        for (int seed = chunk * SeedsPerCase; seed < (chunk + 1) * SeedsPerCase; seed++)
        {
            (int checks, int cuts) = RunSeed(seed, preallocate);
            corruptionChecks += checks;
            cutsWithValidRecordsAfter += cuts;
        }
        output.WriteLine($"{SeedsPerCase} seeds x {CrashesPerSeed} power losses: {corruptionChecks} damages in durable bytes reported, " +
            $"{cutsWithValidRecordsAfter} cuts with valid records after the damage");
        // The model must actually reach the cases under test, or passing proves nothing.
        Assert.True(corruptionChecks >= SeedsPerCase / 2, $"only {corruptionChecks} damage checks");
        Assert.True(cutsWithValidRecordsAfter > 0, "no power loss left valid records after the cut");
    }

    private static (int CorruptionChecks, int CutsWithValidRecordsAfter) RunSeed(int seed, bool preallocate)
    {
        var rng = new Random(seed);
        using var tmp = new TempDir();
        var disk = new PageDisk();
        WalOptions options = new() { Fsync = true, SegmentBytes = rng.Next(6, 40) * 1024, Preallocate = preallocate, SyncHooks = disk };
        var state = new State([], default);
        ulong snapIndex = 0;
        int checks = 0, cuts = 0;
        RaftStorage storage = Open(tmp.Path, options, out _);
        try
        {
            for (int crash = 0; crash < CrashesPerSeed; crash++)
            {
                var candidates = new List<State> { state };
                // Most power losses hit a sync (the group-commit window: records written, fsync not done); some hit idle.
                int ops = rng.Next(5, 40), failAt = rng.Next(4) == 0 ? -1 : rng.Next(ops);
                try
                {
                    for (int op = 0; op < ops; op++)
                    {
                        if (op == failAt) disk.ArmPowerLoss();
                        RunOp(storage, rng, ref state, ref candidates, ref snapIndex);
                    }
                }
                catch (PageDisk.PowerFailedException)
                {
                }
                disk.Disarm();

                Dictionary<string, byte[]> images = disk.PowerLoss(tmp.Path, rng);
                storage.CloseAbruptly();
                disk.Install(images);
                if (rng.Next(3) == 0 && DamageDurableByte(images, rng) is { } damaged)
                {
                    var ex = Assert.Throws<WalCorruptionException>(() => Reopen(tmp.Path, options));
                    Assert.True(ex.File == damaged.Path, $"seed {seed}: corruption reported in {ex.File}, damage in {damaged.Path}");
                    File.WriteAllBytes(damaged.Path, images[damaged.Path]); // undo it
                    checks++;
                }

                var logger = new ListLogger();
                RecoveredState r;
                try
                {
                    storage = Open(tmp.Path, options, out r, logger);
                }
                catch (Exception ex)
                {
                    throw new Xunit.Sdk.XunitException($"seed {seed}, crash {crash}: recovery failed on a power-loss image: {ex}");
                }
                State? match = candidates.FirstOrDefault(c => c.IsRecoveredAs(r, out _));
                if (match is null)
                {
                    string whys = string.Join("; ", candidates.Select(c => { c.IsRecoveredAs(r, out string why); return why; }));
                    Assert.Fail($"seed {seed}, crash {crash}: recovered log is no state between the last sync and the crash " +
                        $"(snapshot {r.Snapshot?.Index}, warnings: {string.Join(" | ", r.Warnings)}; vs each candidate: {whys})");
                }
                state = match!;
                snapIndex = r.Snapshot?.Index ?? 0;
                if (r.Warnings.Any(w => w.Contains("torn", StringComparison.Ordinal)) && CutHadValidRecordsAfter(images))
                {
                    cuts++;
                }
            }
        }
        finally
        {
            storage.Dispose();
        }
        return (checks, cuts);
    }

    private static void RunOp(RaftStorage storage, Random rng, ref State state, ref List<State> candidates, ref ulong snapIndex)
    {
        int kind = rng.Next(100);
        if (kind < 55) AppendBatch(storage, rng, ref state, candidates);
        else if (kind < 65) AppendHardState(storage, rng, ref state, candidates);
        else if (kind < 93)
        {
            storage.Sync();
            candidates = [state]; // acknowledged: nothing before this may be lost
        }
        else if (candidates[0].Hs.Commit > snapIndex)
        {
            // As the node does: a snapshot covers only applied entries, and those are committed by a durable hard state
            // (the snapshot file is made durable before the log is synced, so it must not cover what a crash may take).
            ulong durableCommit = candidates[0].Hs.Commit;
            ulong index = snapIndex + 1 + (ulong)rng.NextInt64((long)(durableCommit - snapIndex));
            storage.SaveSnapshot(Snap(index, state.Log[(int)index - 1].Term));
            snapIndex = index;
            candidates = [state]; // everything appended before a snapshot is durable when it returns
        }
    }

    private static ulong NextTerm(State s) => Math.Max(s.Hs.Term, s.Log.Count > 0 ? s.Log[^1].Term : 0) + 1;

    /// <summary>Appends 1-6 entries, sometimes replacing an uncommitted suffix, sometimes with a new hard state.</summary>
    private static void AppendBatch(RaftStorage storage, Random rng, ref State state, List<State> candidates)
    {
        ulong first = state.LastIndex + 1;
        ulong term = state.Log.Count > 0 ? state.Log[^1].Term : 1;
        ulong floor = Math.Max(state.Hs.Commit, storage.SnapshotIndex);
        if (state.LastIndex > floor && rng.Next(6) == 0)
        {
            first = floor + 1 + (ulong)rng.NextInt64((long)(state.LastIndex - floor)); // a new leader's entries replace ours
            term = NextTerm(state);
        }
        int count = rng.Next(1, 7);
        var entries = new List<Entry>(count);
        for (int i = 0; i < count; i++)
        {
            int size = rng.Next(10) == 0 ? rng.Next(5000, 12000) : rng.Next(0, 2500); // some span pages
            var data = new byte[size];
            rng.NextBytes(data);
            entries.Add(new Entry(term, first + (ulong)i, EntryType.Normal, data));
        }
        HardState? hs = null;
        ulong newLast = entries[^1].Index;
        if (rng.Next(2) == 0)
        {
            ulong commit = state.Hs.Commit + (ulong)rng.NextInt64((long)(newLast - state.Hs.Commit + 1));
            hs = new HardState(Math.Max(state.Hs.Term, term), state.Hs.Vote, commit);
        }
        storage.Append(hs, entries);

        // The records land one by one: every prefix of them is a state the disk may hold after a power loss.
        var log = state.Log.Take((int)first - 1).ToList();
        foreach (Entry e in entries)
        {
            log.Add(e);
            candidates.Add(new State([.. log], state.Hs));
        }
        state = new State(log, hs is { } h && h != state.Hs ? h : state.Hs);
        if (state.Hs != candidates[^1].Hs) candidates.Add(state);
    }

    private static void AppendHardState(RaftStorage storage, Random rng, ref State state, List<State> candidates)
    {
        ulong commit = state.Hs.Commit + (ulong)rng.NextInt64((long)(state.LastIndex - state.Hs.Commit + 1));
        var hs = rng.Next(3) == 0
            ? new HardState(NextTerm(state), (ulong)rng.Next(1, 4), commit) // a vote in a new term
            : state.Hs with { Commit = commit };
        storage.Append(hs, []);
        if (hs != state.Hs)
        {
            state = state with { Hs = hs };
            candidates.Add(state);
        }
    }

    /// <summary>
    /// Flips one byte that was durable and that the image itself shows to be: anywhere in a sealed segment, or in the
    /// last segment before its last sync mark (or in its header, which is synced before the segment is named).
    /// </summary>
    private static (string Path, long Offset)? DamageDurableByte(Dictionary<string, byte[]> images, Random rng)
    {
        string[] paths = images.Keys.OrderBy(p => p, StringComparer.Ordinal).ToArray();
        string last = paths[^1];
        byte[] lastImage = images[last];
        const int headerRecord = WalFormat.HeaderSize + WalFormat.SegmentHeaderSize;
        if (lastImage.Length < headerRecord) return null;
        SegmentHeader header = WalFormat.ReadSegmentHeader(lastImage.AsSpan(WalFormat.HeaderSize, WalFormat.SegmentHeaderSize))!.Value;
        int vouched = headerRecord;
        for (int m = SegmentScanner.FindSyncMark(lastImage, 1, header.Salt); m >= 0; m = SegmentScanner.FindSyncMark(lastImage, m + 1, header.Salt))
        {
            vouched = Math.Max(vouched, m);
        }
        long total = paths[..^1].Sum(p => (long)images[p].Length) + vouched;
        long pick = rng.NextInt64(total);
        foreach (string p in paths)
        {
            long size = p == last ? vouched : images[p].Length;
            if (pick < size)
            {
                byte[] damaged = (byte[])images[p].Clone();
                damaged[pick] ^= (byte)(1 << rng.Next(8));
                File.WriteAllBytes(p, damaged);
                return (p, pick);
            }
            pick -= size;
        }
        return null;
    }

    /// <summary>Whether the last segment's image has a whole, valid record after the first damaged one (pages out of order).</summary>
    private static bool CutHadValidRecordsAfter(Dictionary<string, byte[]> images)
    {
        byte[] data = images[images.Keys.Max(StringComparer.Ordinal)!];
        int pos = 0;
        while (WalFormat.TryReadHeader(data.AsSpan(pos), out uint crc, out uint length, out byte type)
            && WalFormat.PlausiblePayload(type, length) && length <= data.Length - pos - WalFormat.HeaderSize
            && WalFormat.ComputeCrc(data.AsSpan(pos), (int)length) == crc)
        {
            pos += WalFormat.HeaderSize + (int)length;
        }
        for (int p = pos + 1; p <= data.Length - WalFormat.HeaderSize; p++)
        {
            if (WalFormat.TryReadHeader(data.AsSpan(p), out uint crc, out uint length, out byte type) && type is > 0 and <= 4
                && WalFormat.PlausiblePayload(type, length) && length <= data.Length - p - WalFormat.HeaderSize
                && WalFormat.ComputeCrc(data.AsSpan(p), (int)length) == crc)
            {
                return true;
            }
        }
        return false;
    }
}
