namespace RaftPS.History;

/// <summary>
/// What a workload drives: a key-value store seen by one client. Implementations map their errors onto
/// <see cref="KvCallOutcome"/> and must not throw for store errors (only for bugs); honouring the token is optional but
/// makes stopping faster.
/// </summary>
public interface IKvTarget
{
    /// <summary>Writes <paramref name="value"/> to <paramref name="key"/>.</summary>
    Task<KvCallResult> PutAsync(string key, string value, CancellationToken cancellationToken);

    /// <summary>Reads <paramref name="key"/> linearizably; <see cref="KvCallResult.Value"/> is null when the key is absent.</summary>
    Task<KvCallResult> GetAsync(string key, CancellationToken cancellationToken);
}
