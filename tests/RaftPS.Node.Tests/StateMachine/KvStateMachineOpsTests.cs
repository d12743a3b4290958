using RaftPS.Node.StateMachine;
using RaftPS.Protocol;
using static RaftPS.Node.Tests.StateMachine.Kv;

namespace RaftPS.Node.Tests.StateMachine;

public class KvStateMachineOpsTests
{
    /// <summary>
    /// One operation applied after a setup. Setup writes come from client 100 at indexes 1..n; the command under test is
    /// client 1, sequence 1, at index n+1. Expected: status, result version, the result item's value (null = no item),
    /// and afterwards the key's value and version (null/0 = absent).
    /// </summary>
    public sealed record OpCase(KvCommand[] Setup, KvCommand Command, ReplyStatus Status, ulong Version, string? ItemValue,
                                string? FinalValue, ulong FinalVersion);

    private static readonly KvCommand[] KeyIsA = [Put(100, 1, "k", "a")]; // k = "a" at version 1

    private static readonly Dictionary<string, OpCase> Cases = new()
    {
        ["put new key"] = new([], Put(1, 1, "k", "v"), ReplyStatus.Ok, 1, "v", "v", 1),
        ["put overwrites, version = index"] = new(KeyIsA, Put(1, 1, "k", "b"), ReplyStatus.Ok, 2, "b", "b", 2),
        ["put empty value"] = new([], Put(1, 1, "k", ""), ReplyStatus.Ok, 1, "", "", 1),
        ["put null value"] = new(KeyIsA, Put(1, 1, "k", null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["put empty key"] = new([], Put(1, 1, "", "v"), ReplyStatus.BadRequest, 0, null, null, 0),
        ["put unpaired surrogate key"] = new([], Put(1, 1, "k\ud800", "v"), ReplyStatus.BadRequest, 0, null, null, 0),
        ["put unicode key"] = new([], Put(1, 1, "k", "ключ 🔑"), ReplyStatus.Ok, 1, "ключ 🔑", "ключ 🔑", 1),
        ["delete existing"] = new(KeyIsA, Del(1, 1, "k"), ReplyStatus.Ok, 2, null, null, 0),
        ["delete missing"] = new([], Del(1, 1, "k"), ReplyStatus.KeyNotFound, 0, null, null, 0),
        ["delete after delete"] = new([Put(100, 1, "k", "a"), Del(100, 2, "k")], Del(1, 1, "k"), ReplyStatus.KeyNotFound, 0, null, null, 0),
        ["cas version matches"] = new(KeyIsA, Cas(1, 1, "k", "b", 1, null), ReplyStatus.Ok, 2, "b", "b", 2),
        ["cas version differs"] = new(KeyIsA, Cas(1, 1, "k", "b", 5, null), ReplyStatus.VersionMismatch, 1, null, "a", 1),
        ["cas version 0 creates absent key"] = new([], Cas(1, 1, "k", "b", 0, null), ReplyStatus.Ok, 1, "b", "b", 1),
        ["cas version 0 on existing key"] = new(KeyIsA, Cas(1, 1, "k", "b", 0, null), ReplyStatus.VersionMismatch, 1, null, "a", 1),
        ["cas version on absent key"] = new([], Cas(1, 1, "k", "b", 3, null), ReplyStatus.VersionMismatch, 0, null, null, 0),
        ["cas value matches"] = new(KeyIsA, Cas(1, 1, "k", "b", null, "a"), ReplyStatus.Ok, 2, "b", "b", 2),
        ["cas value differs"] = new(KeyIsA, Cas(1, 1, "k", "b", null, "x"), ReplyStatus.VersionMismatch, 1, null, "a", 1),
        ["cas value on absent key"] = new([], Cas(1, 1, "k", "b", null, "a"), ReplyStatus.VersionMismatch, 0, null, null, 0),
        ["cas empty expected value vs absent"] = new([], Cas(1, 1, "k", "b", null, ""), ReplyStatus.VersionMismatch, 0, null, null, 0),
        ["cas both match"] = new(KeyIsA, Cas(1, 1, "k", "b", 1, "a"), ReplyStatus.Ok, 2, "b", "b", 2),
        ["cas version ok, value wrong"] = new(KeyIsA, Cas(1, 1, "k", "b", 1, "x"), ReplyStatus.VersionMismatch, 1, null, "a", 1),
        ["cas value ok, version wrong"] = new(KeyIsA, Cas(1, 1, "k", "b", 2, "a"), ReplyStatus.VersionMismatch, 1, null, "a", 1),
        ["cas version 0 and a value"] = new([], Cas(1, 1, "k", "b", 0, "a"), ReplyStatus.VersionMismatch, 0, null, null, 0),
        ["cas after delete uses version 0"] = new([Put(100, 1, "k", "a"), Del(100, 2, "k")], Cas(1, 1, "k", "b", 0, null), ReplyStatus.Ok, 3, "b", "b", 3),
        ["cas without condition"] = new(KeyIsA, Cas(1, 1, "k", "b", null, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["cas without new value"] = new(KeyIsA, Cas(1, 1, "k", null, 1, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["get is not a write"] = new(KeyIsA, new(1, 1, 0, ClientOp.Get, "k", null, null, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["list is not a write"] = new(KeyIsA, new(1, 1, 0, ClientOp.List, "k", null, null, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["status is not a write"] = new(KeyIsA, new(1, 1, 0, ClientOp.Status, "k", null, null, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["undefined op"] = new(KeyIsA, new(1, 1, 0, (ClientOp)99, "k", B("b"), null, null), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["client id 0"] = new(KeyIsA, Put(0, 1, "k", "b"), ReplyStatus.BadRequest, 0, null, "a", 1),
        ["sequence 0"] = new(KeyIsA, Put(1, 0, "k", "b"), ReplyStatus.BadRequest, 0, null, "a", 1),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Operation(string name)
    {
        var c = Cases[name];
        var sm = new KvStateMachine();
        foreach (var s in c.Setup)
            Assert.Equal(ReplyStatus.Ok, sm.Next(s).Status);
        ulong index = sm.AppliedIndex + 1;

        var r = sm.Apply(index, c.Command);

        Assert.Equal(index, sm.AppliedIndex);
        Assert.Equal(c.Status, r.Status);
        Assert.Equal(c.Version, r.Version);
        Assert.Equal(c.Command.ClientId, r.ClientId);
        Assert.Equal(c.Command.Sequence, r.Sequence);
        if (c.ItemValue is null)
            Assert.Null(r.Item);
        else
        {
            Assert.NotNull(r.Item);
            Assert.Equal(c.Command.Key, r.Item.Key);
            Assert.Equal(c.ItemValue, S(r.Item.Value));
            Assert.Equal(r.Version, r.Item.Version);
        }
        var item = sm.Get(c.Command.Key);
        Assert.Equal(c.FinalValue, item is null ? null : S(item.Value));
        Assert.Equal(c.FinalVersion, item?.Version ?? 0);
        Assert.Equal(c.FinalValue is null ? 0 : 1, sm.Count);
    }

    [Theory]
    [InlineData(0UL, 1UL)]
    [InlineData(1UL, 0UL)]
    public void Write_without_a_session_is_not_recorded(ulong client, ulong seq)
    {
        var sm = new KvStateMachine();
        Assert.Equal(ReplyStatus.BadRequest, sm.Next(Put(client, seq, "k", "v")).Status);
        Assert.Equal(0, sm.SessionCount);
        Assert.Null(sm.Get("k"));
    }

    [Fact]
    public void Apply_copies_the_value_so_the_callers_buffer_can_be_reused()
    {
        var sm = new KvStateMachine();
        var buffer = B("abc");
        sm.Next(new KvCommand(1, 1, 0, ClientOp.Put, "k", buffer, null, null));
        buffer[0] = (byte)'X';
        Assert.Equal("abc", sm.Value("k"));
    }

    [Theory]
    [InlineData(0UL)]  // replay of an index never applied
    [InlineData(3UL)]  // the current index again
    [InlineData(2UL)]  // an older index
    [InlineData(5UL)]  // a gap
    public void Apply_and_ApplyNoop_require_the_next_index(ulong index)
    {
        var sm = new KvStateMachine();
        sm.Next(Put(1, 1, "a", "1"));
        sm.NextNoop();
        sm.Next(Put(1, 2, "b", "2"));
        Assert.Equal(3UL, sm.AppliedIndex);

        Assert.Throws<InvalidOperationException>(() => sm.Apply(index, Put(1, 3, "c", "3")));
        Assert.Throws<InvalidOperationException>(() => sm.ApplyNoop(index));
        Assert.Equal(3UL, sm.AppliedIndex);
        Assert.Null(sm.Get("c"));
        Assert.Equal(2UL, sm.GetSession(1)!.LastSequence);
    }

    [Fact]
    public void Noop_advances_applied_index_and_versions_follow_the_log_index()
    {
        var sm = new KvStateMachine();
        sm.NextNoop();
        sm.NextNoop();
        var r = sm.Next(Put(1, 1, "k", "v"));
        Assert.Equal(3UL, r.Version);
        Assert.Equal(3UL, sm.Get("k")!.Version);
        sm.ApplyNoop(4);
        Assert.Equal(4UL, sm.AppliedIndex);
    }

    [Fact]
    public void Replicas_applying_the_same_log_agree_exactly()
    {
        var log = Workload(seed: 7, count: 2_000);
        var a = new KvStateMachine(sessionTimeoutMs: 2_000, maxSessions: 5);
        var b = new KvStateMachine(sessionTimeoutMs: 2_000, maxSessions: 5);
        foreach (var c in log)
            Assert.Equal(a.ApplyEntry(c), b.ApplyEntry(c));
        Assert.Equal(a.TakeSnapshot(), b.TakeSnapshot());
        Assert.True(a.Count > 0);
    }

    [Theory]
    [InlineData(0L, 1)]
    [InlineData(-1L, 1)]
    [InlineData(1L, 0)]
    [InlineData(1L, -5)]
    public void Constructor_rejects_non_positive_configuration(long timeout, int maxSessions) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvStateMachine(timeout, maxSessions));

    [Fact]
    public void Get_of_missing_key_is_null_and_null_key_throws()
    {
        var sm = new KvStateMachine();
        Assert.Null(sm.Get("nope"));
        Assert.Throws<ArgumentNullException>(() => sm.Get(null!));
        Assert.Throws<ArgumentNullException>(() => sm.Apply(1, null!));
    }
}
