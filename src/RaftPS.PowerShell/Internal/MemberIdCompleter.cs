using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace RaftPS.PowerShell;

/// <summary>Tab completion of member ids: the members a node of the session's connection reports, else the cluster file's.</summary>
public sealed class MemberIdCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string typed = wordToComplete.Trim('\'', '"');
        var ids = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        var connection = CompleterConnection.From(fakeBoundParameters);
        if (connection is not null)
        {
            try
            {
                using var cts = new CancellationTokenSource(Budget);
                foreach (var s in connection.Client.ClusterStatusAsync(cts.Token).GetAwaiter().GetResult())
                    foreach (var m in s.Members) ids.Add(m.Id);
            }
            catch (Exception e) when (e is OperationCanceledException or RaftPS.Client.RaftClientException)
            {
                // Nothing answered in time: fall back to the cluster file.
            }
            if (ids.Count == 0 && connection.ClusterFile is { } file) AddFromFile(ids, file);
        }
        if (fakeBoundParameters["ClusterFile"] is string clusterFile) AddFromFile(ids, clusterFile);
        return ids.Where(id => id.StartsWith(typed, StringComparison.OrdinalIgnoreCase))
            .Select(id => new CompletionResult(CompleterConnection.Quote(id), id, CompletionResultType.ParameterValue, id));
    }

    private static void AddFromFile(SortedSet<string> ids, string file)
    {
        try
        {
            foreach (var m in RaftPS.Protocol.ClusterDefinition.Load(file).Members) ids.Add(m.Id);
        }
        catch (RaftPS.Protocol.ClusterDefinitionException)
        {
            // An unreadable file completes nothing.
        }
    }
}
