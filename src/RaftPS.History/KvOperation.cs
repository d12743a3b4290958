namespace RaftPS.History;

/// <summary>
/// One client operation as observed from outside the store.
/// <para><see cref="Call"/> and <see cref="Return"/> are logical times (ticks or ns) on one clock.
/// Intervals are closed: an operation that returns at t and one invoked at t are treated as concurrent.</para>
/// <para>Put: <see cref="Value"/> is the new value. Delete: <see cref="Value"/> is ignored. Get: <see cref="Output"/> is
/// the value read, null when the key was absent. Outputs of writes are ignored.</para>
/// <para>An operation whose outcome is unknown (timed out, client crashed) has <see cref="Completed"/> = false and
/// <see cref="Return"/> = <see cref="long.MaxValue"/>: it may or may not have taken effect, at any point after
/// <see cref="Call"/>. Unknown-outcome Gets carry no information and are dropped.</para>
/// </summary>
public sealed record KvOperation(
    int ClientId,
    KvOpKind Kind,
    string Key,
    string? Value,
    string? Output,
    long Call,
    long Return,
    bool Completed)
{
    /// <summary>One line for messages, e.g. <c>client 2 Put("k", "v") [10, 42]</c>.</summary>
    public string Describe() => OperationText.Op(this);
}
