using System.Text;
using RaftPS.Protocol;

namespace RaftPS.Node.StateMachine;

/// <summary>
/// Checks a client request against the local limits before it is proposed, so an oversized or malformed write never
/// reaches the log. Apply re-checks only what it must to stay deterministic and never consults these options.
/// </summary>
public static class KvValidator
{
    /// <returns>(<see cref="ReplyStatus.Ok"/>, null) when the request may proceed; otherwise the status and a reason for the client.</returns>
    public static (ReplyStatus Status, string? Error) Validate(ClientRequest r, KvOptions o)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(o);
        if (!Enum.IsDefined(r.Op))
            return Bad($"unknown operation {(byte)r.Op}");
        if (r.Key is null)
            return Bad("key is missing");

        switch (r.Op)
        {
            case ClientOp.Status:
            case ClientOp.SetFaults:
            case ClientOp.TransferLeadership:
            case ClientOp.Members:
            case ClientOp.AddMember:
            case ClientOp.RemoveMember:
            case ClientOp.PromoteMember:
            case ClientOp.GetFaults:
            case ClientOp.Snapshot:
            case ClientOp.Checkpoint:
                return Ok(); // not state machine operations: the node checks them itself

            case ClientOp.List:
                if (r.Limit < 0)
                    return Bad($"limit must be 0 (no limit) or positive, got {r.Limit}");
                if (r.After is not null && CheckKeyText(r.After, o, "continuation token") is { Status: not ReplyStatus.Ok } badToken)
                    return badToken;
                return CheckKeyText(r.Key, o, "pattern");

            case ClientOp.Get:
                return CheckKey(r.Key, o);
        }

        // Writes: Put, Delete, CompareAndSet.
        if (r.ClientId == 0 || r.Sequence == 0)
            return Bad("writes need a client session: client id and sequence must be non-zero");
        var key = CheckKey(r.Key, o);
        if (key.Status != ReplyStatus.Ok)
            return key;

        switch (r.Op)
        {
            case ClientOp.Put:
                if (r.ExpectedVersion is not null || r.ExpectedValue is not null)
                    return Bad("Put takes no expected version or value; use CompareAndSet");
                return CheckValue(r.Value, o, "value");

            case ClientOp.Delete:
                if (r.Value is not null || r.ExpectedVersion is not null || r.ExpectedValue is not null)
                    return Bad("Delete takes no value, expected version or expected value");
                return Ok();

            default: // CompareAndSet
                if (r.ExpectedVersion is null && r.ExpectedValue is null)
                    return Bad("CompareAndSet needs an expected version, an expected value, or both");
                if (r.ExpectedVersion == 0 && r.ExpectedValue is not null)
                    return Bad("CompareAndSet cannot expect a value of a key that must not exist (expected version 0)");
                if (r.ExpectedValue is not null)
                {
                    var expected = CheckValue(r.ExpectedValue, o, "expected value");
                    if (expected.Status != ReplyStatus.Ok)
                        return expected;
                }
                return CheckValue(r.Value, o, "value");
        }
    }

    private static (ReplyStatus Status, string? Error) CheckKey(string key, KvOptions o) =>
        key.Length == 0 ? Bad("key is empty") : CheckKeyText(key, o, "key");

    private static (ReplyStatus Status, string? Error) CheckKeyText(string text, KvOptions o, string what)
    {
        // Keys travel and persist as UTF-8; an unpaired surrogate would not survive that.
        if (!Utf16.IsWellFormed(text))
            return Bad($"{what} is not well-formed Unicode (unpaired surrogate)");
        int bytes = Encoding.UTF8.GetByteCount(text);
        return bytes > o.MaxKeyBytes ? Bad($"{what} is {bytes} bytes in UTF-8, more than the limit of {o.MaxKeyBytes}") : Ok();
    }

    private static (ReplyStatus Status, string? Error) CheckValue(byte[]? value, KvOptions o, string what)
    {
        if (value is null)
            return Bad($"{what} is missing");
        return value.Length > o.MaxValueBytes
            ? (ReplyStatus.ValueTooLarge, $"{what} is {value.Length} bytes, more than the limit of {o.MaxValueBytes}")
            : Ok();
    }

    private static (ReplyStatus Status, string? Error) Ok() => (ReplyStatus.Ok, null);
    private static (ReplyStatus Status, string? Error) Bad(string error) => (ReplyStatus.BadRequest, error);
}
