using RaftPS.Consensus;
using RaftPS.Node.Tests.Wire;

namespace RaftPS.Node.Tests.Transport;

/// <summary>Seeded generator and structural comparison of Raft messages.</summary>
internal static class RaftGen
{
    private static readonly MessageType[] Types = Enum.GetValues<MessageType>();

    private static ulong[] Ids(Random r) => Enumerable.Range(0, r.Next(0, 6)).Select(_ => WireGen.U64(r)).ToArray();

    public static Message Message(Random r, int maxData = 64) => new()
    {
        Type = Types[r.Next(Types.Length)],
        From = WireGen.U64(r),
        To = WireGen.U64(r),
        Term = WireGen.U64(r),
        LogTerm = WireGen.U64(r),
        Index = WireGen.U64(r),
        Commit = WireGen.U64(r),
        Reject = r.Next(2) == 0,
        RejectHint = WireGen.U64(r),
        Entries = Enumerable.Range(0, r.Next(0, 6))
            .Select(_ => new Entry(WireGen.U64(r), WireGen.U64(r), (EntryType)r.Next(0, 3), WireGen.Bytes(r, maxData)))
            .ToArray(),
        Context = r.Next(3) == 0 ? null : WireGen.Bytes(r, 16),
        Snapshot = r.Next(3) != 0 ? null : new Snapshot(
            new SnapshotMetadata(WireGen.U64(r), WireGen.U64(r), new ConfState(Ids(r), Ids(r), Ids(r), Ids(r), r.Next(2) == 0)),
            WireGen.Bytes(r, maxData * 4)),
    };

    public static void Equal(Message e, Message a)
    {
        Assert.Equal(e.Type, a.Type);
        Assert.Equal(e.From, a.From);
        Assert.Equal(e.To, a.To);
        Assert.Equal(e.Term, a.Term);
        Assert.Equal(e.LogTerm, a.LogTerm);
        Assert.Equal(e.Index, a.Index);
        Assert.Equal(e.Commit, a.Commit);
        Assert.Equal(e.Reject, a.Reject);
        Assert.Equal(e.RejectHint, a.RejectHint);
        Assert.Equal(e.Entries.Count, a.Entries.Count);
        for (int i = 0; i < e.Entries.Count; i++)
        {
            Assert.Equal(e.Entries[i].Term, a.Entries[i].Term);
            Assert.Equal(e.Entries[i].Index, a.Entries[i].Index);
            Assert.Equal(e.Entries[i].Type, a.Entries[i].Type);
            Assert.Equal(e.Entries[i].Data, a.Entries[i].Data);
        }
        WireGen.Equal(e.Context, a.Context);
        if (e.Snapshot is null)
        {
            Assert.Null(a.Snapshot);
            return;
        }
        var s = Assert.IsType<Snapshot>(a.Snapshot);
        Assert.Equal(e.Snapshot.Index, s.Index);
        Assert.Equal(e.Snapshot.Term, s.Term);
        Assert.Equal(e.Snapshot.Data, s.Data);
        var ec = e.Snapshot.Metadata.ConfState;
        var c = s.Metadata.ConfState;
        Assert.Equal(ec.Voters, c.Voters);
        Assert.Equal(ec.Learners, c.Learners);
        Assert.Equal(ec.VotersOutgoing, c.VotersOutgoing);
        Assert.Equal(ec.LearnersNext, c.LearnersNext);
        Assert.Equal(ec.AutoLeave, c.AutoLeave);
    }
}
