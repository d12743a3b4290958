using RaftPS.Node.StateMachine;
using RaftPS.Protocol;

namespace RaftPS.Node.Tests.StateMachine;

public class KvValidatorTests
{
    private static readonly KvOptions Options = new() { MaxValueBytes = 10, MaxKeyBytes = 8 };

    private static ClientRequest W(ClientOp op, string key = "k", int? value = 1, ulong? ev = null, int? expected = null) => new()
    {
        ClientId = 1,
        Sequence = 1,
        Op = op,
        Key = key,
        Value = value is int n ? new byte[n] : null,
        ExpectedVersion = ev,
        ExpectedValue = expected is int e ? new byte[e] : null,
    };

    private static readonly Dictionary<string, (ClientRequest Request, ReplyStatus Status)> Cases = new()
    {
        ["put ok"] = (W(ClientOp.Put), ReplyStatus.Ok),
        ["put empty value ok"] = (W(ClientOp.Put, value: 0), ReplyStatus.Ok),
        ["put value at limit"] = (W(ClientOp.Put, value: 10), ReplyStatus.Ok),
        ["put value over limit"] = (W(ClientOp.Put, value: 11), ReplyStatus.ValueTooLarge),
        ["put without value"] = (W(ClientOp.Put, value: null), ReplyStatus.BadRequest),
        ["put with expected version"] = (W(ClientOp.Put, ev: 1), ReplyStatus.BadRequest),
        ["put with expected value"] = (W(ClientOp.Put, expected: 1), ReplyStatus.BadRequest),
        ["put empty key"] = (W(ClientOp.Put, key: ""), ReplyStatus.BadRequest),
        ["key at limit"] = (W(ClientOp.Put, key: "12345678"), ReplyStatus.Ok),
        ["key over limit"] = (W(ClientOp.Put, key: "123456789"), ReplyStatus.BadRequest),
        ["key limit counts UTF-8 bytes"] = (W(ClientOp.Put, key: "ééééé"), ReplyStatus.BadRequest), // 10 bytes, 5 chars
        ["key with unpaired surrogate"] = (W(ClientOp.Put, key: "a\ud800"), ReplyStatus.BadRequest),
        ["null key"] = (W(ClientOp.Put) with { Key = null! }, ReplyStatus.BadRequest),
        ["write without client id"] = (W(ClientOp.Put) with { ClientId = 0 }, ReplyStatus.BadRequest),
        ["write without sequence"] = (W(ClientOp.Delete, value: null) with { Sequence = 0 }, ReplyStatus.BadRequest),
        ["delete ok"] = (W(ClientOp.Delete, value: null), ReplyStatus.Ok),
        ["delete with value"] = (W(ClientOp.Delete), ReplyStatus.BadRequest),
        ["delete with expected version"] = (W(ClientOp.Delete, value: null, ev: 3), ReplyStatus.BadRequest),
        ["delete empty key"] = (W(ClientOp.Delete, key: "", value: null), ReplyStatus.BadRequest),
        ["cas version ok"] = (W(ClientOp.CompareAndSet, ev: 4), ReplyStatus.Ok),
        ["cas version 0 ok"] = (W(ClientOp.CompareAndSet, ev: 0), ReplyStatus.Ok),
        ["cas value ok"] = (W(ClientOp.CompareAndSet, expected: 3), ReplyStatus.Ok),
        ["cas both ok"] = (W(ClientOp.CompareAndSet, ev: 4, expected: 3), ReplyStatus.Ok),
        ["cas no condition"] = (W(ClientOp.CompareAndSet), ReplyStatus.BadRequest),
        ["cas version 0 with value"] = (W(ClientOp.CompareAndSet, ev: 0, expected: 2), ReplyStatus.BadRequest),
        ["cas without new value"] = (W(ClientOp.CompareAndSet, value: null, ev: 4), ReplyStatus.BadRequest),
        ["cas new value too large"] = (W(ClientOp.CompareAndSet, value: 11, ev: 4), ReplyStatus.ValueTooLarge),
        ["cas expected value too large"] = (W(ClientOp.CompareAndSet, ev: 4, expected: 11), ReplyStatus.ValueTooLarge),
        ["get ok without session"] = (new ClientRequest { Op = ClientOp.Get, Key = "k" }, ReplyStatus.Ok),
        ["get empty key"] = (new ClientRequest { Op = ClientOp.Get, Key = "" }, ReplyStatus.BadRequest),
        ["get key over limit"] = (new ClientRequest { Op = ClientOp.Get, Key = "123456789" }, ReplyStatus.BadRequest),
        ["list empty pattern"] = (new ClientRequest { Op = ClientOp.List, Key = "" }, ReplyStatus.Ok),
        ["list wildcard with limit"] = (new ClientRequest { Op = ClientOp.List, Key = "a/*", Limit = 5 }, ReplyStatus.Ok),
        ["list negative limit"] = (new ClientRequest { Op = ClientOp.List, Key = "a", Limit = -1 }, ReplyStatus.BadRequest),
        ["list pattern over limit"] = (new ClientRequest { Op = ClientOp.List, Key = "123456789" }, ReplyStatus.BadRequest),
        ["status"] = (new ClientRequest { Op = ClientOp.Status }, ReplyStatus.Ok),
        ["undefined op"] = (new ClientRequest { Op = (ClientOp)42, Key = "k" }, ReplyStatus.BadRequest),
        ["op 0"] = (new ClientRequest { Key = "k" }, ReplyStatus.BadRequest),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Validate(string name)
    {
        var (request, status) = Cases[name];
        var (actual, error) = KvValidator.Validate(request, Options);
        Assert.Equal(status, actual);
        if (status == ReplyStatus.Ok)
            Assert.Null(error);
        else
            Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Default_limits()
    {
        var o = new KvOptions();
        Assert.Equal(1 << 20, o.MaxValueBytes);
        Assert.Equal(4096, o.MaxKeyBytes);
        Assert.Equal(3_600_000, o.SessionTimeoutMs);
        Assert.Equal(100_000, o.MaxSessions);
        var big = new ClientRequest { ClientId = 1, Sequence = 1, Op = ClientOp.Put, Key = "k", Value = new byte[(1 << 20) + 1] };
        Assert.Equal(ReplyStatus.ValueTooLarge, KvValidator.Validate(big, o).Status);
        Assert.Equal(ReplyStatus.Ok, KvValidator.Validate(big with { Value = new byte[1 << 20] }, o).Status);
    }

    /// <summary>Whatever the validator accepts must encode, decode and apply without BadRequest.</summary>
    [Fact]
    public void Accepted_writes_apply_cleanly()
    {
        var sm = new KvStateMachine();
        ulong seq = 1;
        foreach (var (request, status) in Cases.Values)
        {
            if (status != ReplyStatus.Ok || request.Op is not (ClientOp.Put or ClientOp.Delete or ClientOp.CompareAndSet))
                continue;
            var cmd = KvCommand.FromRequest(request with { Sequence = seq++ }, timestampMs: 5);
            var r = sm.Next(KvCommandCodec.Decode(KvCommandCodec.Encode(cmd)));
            Assert.NotEqual(ReplyStatus.BadRequest, r.Status);
        }
    }
}
