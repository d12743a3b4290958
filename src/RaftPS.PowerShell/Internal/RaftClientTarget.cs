using System.Text;
using RaftPS.Client;
using RaftPS.History;
using RaftPS.Protocol;

namespace RaftPS.PowerShell;

/// <summary>
/// The workload's view of a cluster through a <see cref="RaftClient"/>. Maps the client's typed errors onto what the
/// history needs: a write that timed out after being sent is unknown (thesis §6.3), one the client never sent or the
/// cluster refused is not applied, and a read that failed says nothing.
/// </summary>
internal sealed class RaftClientTarget(RaftClient client) : IKvTarget
{
    public async Task<KvCallResult> PutAsync(string key, string value, CancellationToken cancellationToken)
    {
        try
        {
            await client.PutAsync(key, Encoding.UTF8.GetBytes(value), cancellationToken).ConfigureAwait(false);
            return KvCallResult.Ok();
        }
        catch (RaftTimeoutException e)
        {
            return new KvCallResult(e.OutcomeUnknown ? KvCallOutcome.Unknown : KvCallOutcome.NotApplied, null, $"{RaftErrorId.Timeout}: {e.Message}");
        }
        catch (RaftUnavailableException e)
        {
            return new KvCallResult(KvCallOutcome.NotApplied, null, $"{RaftErrorId.NoQuorum}: {e.Message}");
        }
        catch (RaftClientException e)
        {
            return new KvCallResult(KvCallOutcome.NotApplied, null, $"{e.ErrorId}: {e.Message}");
        }
    }

    public async Task<KvCallResult> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            KvItem? item = await client.TryGetAsync(key, ReadConsistency.Linearizable, cancellationToken).ConfigureAwait(false);
            return KvCallResult.Ok(item is null ? null : Encoding.UTF8.GetString(item.Value));
        }
        catch (RaftClientException e)
        {
            return new KvCallResult(KvCallOutcome.NotApplied, null, $"{e.ErrorId}: {e.Message}");
        }
    }
}
