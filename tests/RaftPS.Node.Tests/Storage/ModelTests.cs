using RaftPS.Consensus;
using RaftPS.Node.Storage;
using static RaftPS.Node.Tests.Storage.Kit;

namespace RaftPS.Node.Tests.Storage;

/// <summary>
/// Seeded random walks over appends, overwrites, hard states, local and installed snapshots and restarts, with
/// small segments so rollovers and every snapshot path are exercised; after each restart the recovered state must
/// equal a plain in-memory model. A failing seed is in the test name and replays exactly.
/// </summary>
public class ModelTests
{
    private sealed class Model
    {
        public List<Entry> Log = [];   // entries after the snapshot
        public ulong SnapIndex, SnapTerm, Term = 1;
        public HardState Hs;
        public ulong Last => Log.Count > 0 ? Log[^1].Index : SnapIndex;
        public ulong TermAt(ulong i) => i == SnapIndex ? SnapTerm : Log[(int)(i - SnapIndex - 1)].Term;
    }

    [Theory]
    [InlineData(1, 700L)]
    [InlineData(2, 1500L)]
    [InlineData(3, 4096L)]
    [InlineData(4, 700L)]
    [InlineData(5, 300L)]
    public void RandomHistoriesRecoverExactly(int seed, long segmentBytes)
    {
        using var tmp = new TempDir();
        var rng = new Random(seed);
        WalOptions options = Small(segmentBytes, preallocate: seed % 2 == 0);
        var m = new Model();
        RaftStorage s = Open(tmp.Path, options, out _);
        try
        {
            for (int step = 0; step < 400; step++)
            {
                int op = rng.Next(100);
                if (op < 55)
                {
                    ulong from = m.Last + 1;
                    ulong floor = Math.Max(m.Hs.Commit, m.SnapIndex);
                    if (op < 10 && m.Last > floor)
                    {
                        // conflict: the core replaces its uncommitted tail, always with a newer term
                        from = floor + 1 + (ulong)rng.Next((int)(m.Last - floor));
                        m.Term++;
                    }
                    List<Entry> batch = Range(from, from + (ulong)rng.Next(1, 8) - 1, m.Term, rng.Next(0, 120));
                    HardState? hs = null;
                    if (rng.Next(2) == 0)
                    {
                        ulong last = batch[^1].Index;
                        ulong commit = Math.Min(last, m.Hs.Commit + (ulong)rng.Next(0, 6));
                        hs = new HardState(m.Term, (ulong)rng.Next(1, 4), Math.Max(commit, m.Hs.Commit));
                    }
                    s.Append(hs, batch);
                    WalTests.ModelAppend(m.Log, batch);
                    if (hs is { } h) m.Hs = h;
                }
                else if (op < 70)
                {
                    s.Sync();
                }
                else if (op < 80 && m.Hs.Commit > m.SnapIndex)
                {
                    // local snapshot at an applied (committed) index: the log after it is kept
                    ulong index = m.SnapIndex + 1 + (ulong)rng.Next((int)(m.Hs.Commit - m.SnapIndex));
                    ulong term = m.TermAt(index);
                    s.SaveSnapshot(Snap(index, term, 10));
                    m.Log.RemoveAll(e => e.Index <= index);
                    (m.SnapIndex, m.SnapTerm) = (index, term);
                }
                else if (op < 84)
                {
                    // snapshot installed from a leader whose log diverges from ours after the commit point
                    m.Term++;
                    ulong index = Math.Max(m.Hs.Commit, m.SnapIndex) + 1 + (ulong)rng.Next(0, 30);
                    s.SaveSnapshot(Snap(index, m.Term, 10));
                    m.Log.Clear();
                    (m.SnapIndex, m.SnapTerm) = (index, m.Term);
                    var hs = new HardState(m.Term, 0, index);
                    s.Append(hs, []);
                    m.Hs = hs;
                }
                else if (op < 92)
                {
                    s.Dispose();
                    s = Open(tmp.Path, options, out RecoveredState r);
                    string at = $"seed {seed} step {step}";
                    Assert.True(m.SnapIndex == (r.Snapshot?.Index ?? 0), $"{at}: snapshot {r.Snapshot?.Index} expected {m.SnapIndex}");
                    Assert.True(m.Hs == r.HardState, $"{at}: hard state {r.HardState} expected {m.Hs}");
                    Assert.True(m.Log.Count == r.Entries.Count, $"{at}: {r.Entries.Count} entries expected {m.Log.Count}");
                    AssertEntries(m.Log, r.Entries);
                    Assert.Empty(r.Warnings);
                    Assert.Equal(m.Last, s.LastIndex);
                }
            }
            s.SaveSnapshot(Snap(m.Last + 1, m.Term + 1, 10));
            Assert.Equal(1, s.SegmentCount);
            Assert.Single(Snapshots(tmp.Path));
        }
        finally
        {
            s.Dispose();
        }
    }
}
