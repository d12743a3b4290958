using System.Management.Automation;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Reads keys and their values from the RaftPS cluster.</summary>
/// <remarks>
/// <para>Emits one RaftPS.Value (Key, Value, Version) per key. -Key takes exact keys or wildcard patterns (* ? and
/// [a-z]); an exact key that does not exist is reported as the error KeyNotFound, a pattern that matches nothing
/// emits nothing. -Prefix lists every key that starts with the given text. Without -Key or -Prefix every key is
/// listed. Results come in key order.</para>
/// <para>Reads are linearizable by default: the leader confirms it still leads (ReadIndex) before answering, so a
/// read sees every write acknowledged before it started. -Stale lets any node answer from its local state, which is
/// faster and works without a quorum but may miss recent writes.</para>
/// </remarks>
/// <example>
/// <code>Get-RaftValue -Key greeting</code>
/// <para>Reads one key.</para>
/// </example>
/// <example>
/// <code>Get-RaftValue -Key 'app/*' | Export-Csv ./app.csv</code>
/// <para>Exports every key matching a wildcard to a CSV file (columns Key, Value, Version).</para>
/// </example>
/// <example>
/// <code>Get-RaftValue -Prefix config/ -Stale</code>
/// <para>Lists keys by prefix from any node's local state, even while the cluster has no leader.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "RaftValue", DefaultParameterSetName = ByKey)]
[OutputType(KeyValue.TypeName)]
public sealed class GetRaftValueCommand : RaftClientCmdlet
{
    private const string ByKey = "Key";
    private const string ByPrefix = "Prefix";

    /// <summary>Keys to read; wildcards (* ? [ ]) select every matching key. Binds from the pipeline, also by property name.</summary>
    [Parameter(Position = 0, ParameterSetName = ByKey, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(KeyCompleter))]
    public string[]? Key { get; set; }

    /// <summary>List every key that starts with this text (taken literally, no wildcards).</summary>
    [Parameter(Mandatory = true, ParameterSetName = ByPrefix)]
    [AllowEmptyString]
    public string Prefix { get; set; } = "";

    /// <summary>Let any node answer from its local state: works without a leader but may miss the newest writes.</summary>
    [Parameter]
    public SwitchParameter Stale { get; set; }

    private ReadConsistency Consistency => Stale ? ReadConsistency.Stale : ReadConsistency.Linearizable;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ByPrefix)
        {
            List(Prefix, key => key.StartsWith(Prefix, StringComparison.Ordinal), Prefix);
            return;
        }
        if (Key is null)
        {
            List("", _ => true, "*");
            return;
        }
        foreach (var key in Key)
        {
            if (WildcardPattern.ContainsWildcardCharacters(key))
            {
                var pattern = WildcardPattern.Get(key, WildcardOptions.CultureInvariant);
                List(LiteralPrefix(key), pattern.IsMatch, key);
            }
            else
            {
                string literal = WildcardPattern.Unescape(key);
                TryRun(() => WriteObject(KeyValue.From(Await(ct => Client.GetAsync(literal, Consistency, ct)))), literal);
            }
        }
    }

    /// <summary>Lists by a literal prefix (the node treats * and ? as a glob, so none are sent) and filters here.</summary>
    private void List(string prefix, Func<string, bool> match, string target)
    {
        string serverPrefix = prefix[..LiteralLength(prefix)];
        TryRun(() =>
        {
            foreach (var item in Await(ct => Client.ListAsync(serverPrefix, 0, Consistency, ct)))
                if (match(item.Key)) WriteObject(KeyValue.From(item));
        }, target);
    }

    /// <summary>The text of a PowerShell wildcard pattern before its first special character.</summary>
    private static string LiteralPrefix(string pattern) => pattern[..LiteralLength(pattern)];

    private static int LiteralLength(string s)
    {
        int i = s.AsSpan().IndexOfAny("*?[`");
        return i < 0 ? s.Length : i;
    }
}
