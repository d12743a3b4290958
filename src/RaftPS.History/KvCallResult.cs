namespace RaftPS.History;

/// <summary>The result of one <see cref="IKvTarget"/> call: outcome, the value read (Get), and an error text.</summary>
public readonly record struct KvCallResult(KvCallOutcome Outcome, string? Value = null, string? Error = null)
{
    public static KvCallResult Ok(string? value = null) => new(KvCallOutcome.Ok, value);
}
