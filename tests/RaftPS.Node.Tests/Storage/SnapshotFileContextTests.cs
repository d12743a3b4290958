using RaftPS.Consensus;
using RaftPS.Node.Storage;

namespace RaftPS.Node.Tests.Storage;

/// <summary>The snapshot file keeps the configuration's context (the members' addresses), so a restart from it knows where its peers are.</summary>
public sealed class SnapshotFileContextTests : IDisposable
{
    private readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "raftps-snapctx-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(300)]
    public void The_configuration_context_survives_a_write_and_read(int contextBytes)
    {
        var context = contextBytes == 0 ? null : Enumerable.Range(0, contextBytes).Select(i => (byte)(i * 7)).ToArray();
        var conf = new ConfState([1, 2, 3], [4], [], [], AutoLeave: true, Context: context);
        var snapshot = new Snapshot(new SnapshotMetadata(42, 5, conf), [9, 8, 7]);
        string path = SnapshotFile.Write(_dir, snapshot, fsync: false);
        var back = SnapshotFile.Read(path, 42);
        Assert.Equal(context ?? [], back.Metadata.ConfState.Context ?? []);
        Assert.Equal(conf.Voters, back.Metadata.ConfState.Voters);
        Assert.Equal(conf.Learners, back.Metadata.ConfState.Learners);
        Assert.True(back.Metadata.ConfState.AutoLeave);
        Assert.Equal(snapshot.Data, back.Data);
    }

    [Fact]
    public void A_damaged_context_length_is_detected()
    {
        var conf = new ConfState([1], [], [], [], Context: [1, 2, 3]);
        string path = SnapshotFile.Write(_dir, new Snapshot(new SnapshotMetadata(7, 1, conf), [1]), fsync: false);
        var bytes = File.ReadAllBytes(path);
        // magic 8, version 4, index 8, term 8, four lists (1 id: 4 + 8, then 3 × 4), auto-leave 1: the context length follows.
        int at = 8 + 4 + 8 + 8 + (4 + 8) + 3 * 4 + 1;
        Assert.Equal(3, BitConverter.ToInt32(bytes, at));
        bytes[at] = 0xFF;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => SnapshotFile.Read(path, 7));
    }
}
