using System.Text;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.Wire;

/// <summary>Seeded generators of wire values and structural comparisons for round-trip tests.</summary>
internal static class WireGen
{
    private static readonly int[] CodePoints = ['a', 'Z', '0', '/', '*', ' ', 0xE9, 0x4E2D, 0x1F600, 0x10FFFF, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFD];

    public static ulong U64(Random r) => r.Next(4) switch
    {
        0 => (ulong)r.Next(0, 200),
        1 => ulong.MaxValue - (ulong)r.Next(0, 3),
        _ => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63),
    };

    public static int I32(Random r) => r.Next(4) switch
    {
        0 => r.Next(-3, 100),
        1 => int.MaxValue - r.Next(0, 3),
        2 => int.MinValue + r.Next(0, 3),
        _ => r.Next(int.MinValue, int.MaxValue),
    };

    public static string Str(Random r, int maxLen = 24)
    {
        int n = r.Next(0, maxLen + 1);
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.Append(char.ConvertFromUtf32(CodePoints[r.Next(CodePoints.Length)]));
        return sb.ToString();
    }

    public static string? NullableStr(Random r) => r.Next(3) == 0 ? null : Str(r);

    public static byte[] Bytes(Random r, int maxLen = 64)
    {
        var b = new byte[r.Next(0, maxLen + 1)];
        r.NextBytes(b);
        return b;
    }

    public static byte[]? NullableBytes(Random r) => r.Next(3) == 0 ? null : Bytes(r);

    public static ClientRequest Request(Random r) => new()
    {
        RequestId = U64(r),
        ClientId = U64(r),
        Sequence = U64(r),
        Op = (ClientOp)r.Next(1, 7),
        Key = Str(r),
        Value = NullableBytes(r),
        ExpectedVersion = r.Next(2) == 0 ? null : U64(r),
        ExpectedValue = NullableBytes(r),
        Consistency = (ReadConsistency)r.Next(0, 2),
        Limit = I32(r),
    };

    public static ClientReply Reply(Random r) => new()
    {
        RequestId = U64(r),
        Status = (ReplyStatus)r.Next(0, 8),
        LeaderId = NullableStr(r),
        LeaderEndpoint = NullableStr(r),
        Items = Enumerable.Range(0, r.Next(0, 5)).Select(_ => new KvItem(Str(r), Bytes(r), U64(r))).ToArray(),
        Version = U64(r),
        Stale = r.Next(2) == 0,
        Error = NullableStr(r),
        NodeStatus = r.Next(2) == 0 ? null : new NodeStatus
        {
            Id = Str(r),
            Role = Str(r),
            Term = U64(r),
            Leader = NullableStr(r),
            CommitIndex = U64(r),
            AppliedIndex = U64(r),
            LastIndex = U64(r),
            SnapshotIndex = U64(r),
            Members = Enumerable.Range(0, r.Next(0, 6)).Select(_ => new MemberInfo(Str(r), Str(r), I32(r), r.Next(2) == 0)).ToArray(),
        },
    };

    public static void Equal(byte[]? expected, byte[]? actual)
    {
        if (expected is null)
        {
            Assert.Null(actual);
            return;
        }
        Assert.NotNull(actual);
        Assert.Equal(expected, actual);
    }

    public static void Equal(ClientRequest e, ClientRequest a)
    {
        Assert.Equal(e.RequestId, a.RequestId);
        Assert.Equal(e.ClientId, a.ClientId);
        Assert.Equal(e.Sequence, a.Sequence);
        Assert.Equal(e.Op, a.Op);
        Assert.Equal(e.Key, a.Key);
        Equal(e.Value, a.Value);
        Assert.Equal(e.ExpectedVersion, a.ExpectedVersion);
        Equal(e.ExpectedValue, a.ExpectedValue);
        Assert.Equal(e.Consistency, a.Consistency);
        Assert.Equal(e.Limit, a.Limit);
        Assert.Equal(e.Faults is null, a.Faults is null);
        if (e.Faults is { } ef && a.Faults is { } af)
        {
            Assert.Equal(ef.DropRate, af.DropRate, 6);
            Assert.Equal(ef.DelayMs, af.DelayMs);
            Assert.Equal(ef.PartitionFrom, af.PartitionFrom);
            Assert.Equal(ef.SuspendMs, af.SuspendMs);
        }
    }

    public static void Equal(ClientReply e, ClientReply a)
    {
        Assert.Equal(e.RequestId, a.RequestId);
        Assert.Equal(e.Status, a.Status);
        Assert.Equal(e.LeaderId, a.LeaderId);
        Assert.Equal(e.LeaderEndpoint, a.LeaderEndpoint);
        Assert.Equal(e.Version, a.Version);
        Assert.Equal(e.Stale, a.Stale);
        Assert.Equal(e.Error, a.Error);
        Assert.Equal(e.Items.Count, a.Items.Count);
        for (int i = 0; i < e.Items.Count; i++)
        {
            Assert.Equal(e.Items[i].Key, a.Items[i].Key);
            Assert.Equal(e.Items[i].Value, a.Items[i].Value);
            Assert.Equal(e.Items[i].Version, a.Items[i].Version);
        }
        if (e.NodeStatus is null)
        {
            Assert.Null(a.NodeStatus);
            return;
        }
        var es = e.NodeStatus;
        var s = Assert.IsType<NodeStatus>(a.NodeStatus);
        Assert.Equal(es.Id, s.Id);
        Assert.Equal(es.Role, s.Role);
        Assert.Equal(es.Term, s.Term);
        Assert.Equal(es.Leader, s.Leader);
        Assert.Equal(es.CommitIndex, s.CommitIndex);
        Assert.Equal(es.AppliedIndex, s.AppliedIndex);
        Assert.Equal(es.LastIndex, s.LastIndex);
        Assert.Equal(es.SnapshotIndex, s.SnapshotIndex);
        Assert.Equal(es.Members, s.Members); // MemberInfo is a record of scalars: value equality
    }
}
