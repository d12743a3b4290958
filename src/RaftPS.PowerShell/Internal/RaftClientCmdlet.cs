using System.Management.Automation;
using System.Net;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.PowerShell;

/// <summary>Base of the cmdlets that talk to a cluster: -Connection, else the session's default connection.</summary>
public abstract class RaftClientCmdlet : RaftCmdlet
{
    /// <summary>The cluster to use, from Connect-RaftCluster. Defaults to the session's connection (the last Connect-RaftCluster).</summary>
    [Parameter]
    [ValidateNotNull]
    public Connection? Connection { get; set; }

    private Connection? _resolved;

    /// <summary>The connection in use; a terminating NotConnected error when there is none.</summary>
    protected Connection ActiveConnection
    {
        get
        {
            if (_resolved is not null) return _resolved;
            var c = Connection ?? SessionConnections.Default;
            if (c is null || c.IsClosed)
                Terminate(RaftErrorId.NotConnected, ErrorCategory.ConnectionError,
                    "Not connected to a RaftPS cluster. Run Connect-RaftCluster -ClusterFile <file> (or -Endpoint host:port) first, or pass -Connection.", null);
            return _resolved = c!;
        }
    }

    protected RaftClient Client => ActiveConnection.Client;

    /// <summary>
    /// Statuses of every node the cluster knows: the connection's endpoints plus every member they report, in member
    /// order; nodes that do not answer come back as Unreachable.
    /// </summary>
    protected IReadOnlyList<NodeState> ClusterStates()
    {
        IReadOnlyList<NodeStatus> answered;
        try
        {
            answered = Await(ct => Client.ClusterStatusAsync(ct));
        }
        catch (RaftUnavailableException)
        {
            answered = [];
        }
        var members = KnownMembers(answered);
        var result = new List<NodeState>();
        foreach (var (id, endpoint) in members)
        {
            // A member the connection's endpoints did not cover is asked directly.
            var status = answered.FirstOrDefault(s => string.Equals(s.Id, id, StringComparison.OrdinalIgnoreCase)) ?? TryStatus(endpoint);
            result.Add(status is null ? NodeState.Unreachable(id, endpoint) : NodeState.From(status, endpoint));
        }
        return result;
    }

    /// <summary>Status of a node the connection's endpoints do not include (those were asked already), bounded by the status timeout.</summary>
    private NodeStatus? TryStatus(string endpoint)
    {
        IPEndPoint ep;
        try { ep = ClusterDefinition.ParseEndpoint(endpoint); } catch (ClusterDefinitionException) { return null; }
        if (Client.Endpoints.Contains(ep)) return null;
        try
        {
            using var budget = CancellationTokenSource.CreateLinkedTokenSource(StopToken);
            budget.CancelAfter(Client.Options.StatusTimeout);
            return Client.StatusAsync(ep, budget.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!StopToken.IsCancellationRequested)
        {
            return null;
        }
        catch (RaftClientException)
        {
            return null;
        }
    }

    /// <summary>(id, "host:port") of every member: from the leader's view when one answered, else the union of all views.</summary>
    private List<(string Id, string Endpoint)> KnownMembers(IReadOnlyList<NodeStatus> answered)
    {
        var leader = answered.FirstOrDefault(s => string.Equals(s.Role, "Leader", StringComparison.OrdinalIgnoreCase));
        var views = leader is not null ? [leader] : answered;
        var list = new List<(string, string)>();
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var s in views)
            foreach (var m in s.Members)
                if (ids.Add(m.Id)) list.Add((m.Id, ClusterDefinition.FormatEndpoint(m.Host, m.Port)));
        if (list.Count == 0 && ActiveConnection.ClusterFile is { } file)
        {
            try
            {
                foreach (var m in ClusterDefinition.Load(file).Members)
                    if (ids.Add(m.Id)) list.Add((m.Id, m.Endpoint));
            }
            catch (ClusterDefinitionException)
            {
                // The file changed since Connect-RaftCluster; the endpoints below still say what did not answer.
            }
        }
        if (list.Count == 0)
            foreach (var ep in Client.Endpoints)
                list.Add((ep.ToString(), ep.ToString()));
        return list;
    }

    /// <summary>
    /// Writes the items whose id matches one of <paramref name="ids"/> (wildcards, any case), each once and in order; all
    /// of them when <paramref name="ids"/> is null. An id without wildcards that matches nothing is a NotFound error.
    /// </summary>
    protected void WriteMatchingIds<T>(IReadOnlyList<T> items, Func<T, string> idOf, string[]? ids)
    {
        var patterns = ids?.Select(i => WildcardPattern.Get(i, WildcardOptions.IgnoreCase)).ToArray();
        foreach (var item in items)
            if (patterns is null || patterns.Any(p => p.IsMatch(idOf(item)))) WriteObject(item);
        foreach (var id in ids ?? [])
            if (!WildcardPattern.ContainsWildcardCharacters(id) && !items.Any(i => string.Equals(idOf(i), id, StringComparison.OrdinalIgnoreCase)))
                Fail(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, $"'{id}' is not a member of cluster '{ActiveConnection.ClusterName}'.", id);
    }

    /// <summary>The UDP endpoint of member <paramref name="id"/>, or a NotFound error (non-terminating) and null.</summary>
    protected IPEndPoint? ResolveMember(string id)
    {
        var state = ClusterStates().FirstOrDefault(s => string.Equals(s.Id, id, StringComparison.OrdinalIgnoreCase));
        if (state is null)
        {
            Fail(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, $"'{id}' is not a member of cluster '{ActiveConnection.ClusterName}'.", id);
            return null;
        }
        return ClusterDefinition.ParseEndpoint(state.Endpoint);
    }
}
