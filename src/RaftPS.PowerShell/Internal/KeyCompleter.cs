using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RaftPS.Protocol;

namespace RaftPS.PowerShell;

/// <summary>Tab completion of keys: a stale list by the typed prefix from the session's connection, bounded in time and count.</summary>
public sealed class KeyCompleter : IArgumentCompleter
{
    private const int MaxResults = 100;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var connection = CompleterConnection.From(fakeBoundParameters);
        if (connection is null) return [];
        string prefix = wordToComplete.Trim('\'', '"');
        // The node treats * and ? as a glob; a literal prefix is what completion needs.
        int wild = prefix.AsSpan().IndexOfAny("*?");
        if (wild >= 0) prefix = prefix[..wild];
        IReadOnlyList<KvItem> items;
        try
        {
            using var cts = new CancellationTokenSource(Budget);
            items = connection.Client.ListAsync(prefix, MaxResults, ReadConsistency.Stale, cts.Token).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationCanceledException or RaftPS.Client.RaftClientException or ArgumentException)
        {
            return [];
        }
        return items.Select(i => new CompletionResult(CompleterConnection.Quote(i.Key), i.Key, CompletionResultType.ParameterValue, $"{i.Key} (version {i.Version})"));
    }
}
