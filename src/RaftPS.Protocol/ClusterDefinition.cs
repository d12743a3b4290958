using System.Globalization;
using System.IO.Hashing;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

[assembly: InternalsVisibleTo("RaftPS.Node.Tests")]

namespace RaftPS.Protocol;

/// <summary>
/// One server of the cluster. <see cref="NodeId"/> is the numeric id the consensus core uses: derived from
/// <see cref="Id"/> so every process computes the same number without coordination.
/// </summary>
public sealed record ClusterMember(string Id, string Host, int Port)
{
    /// <summary><see cref="ClusterDefinition.NodeIdOf"/> of <see cref="Id"/>.</summary>
    public ulong NodeId => ClusterDefinition.NodeIdOf(Id);

    /// <summary>"host:port" ("[v6]:port" for an IPv6 literal): the form NotLeader hints and status output use.</summary>
    public string Endpoint => ClusterDefinition.FormatEndpoint(Host, Port);

    /// <summary>The member's UDP endpoint; a host name is resolved (IPv4 preferred).</summary>
    /// <exception cref="ClusterDefinitionException">The host does not resolve.</exception>
    public IPEndPoint ResolveEndPoint() => ClusterDefinition.ResolveEndPoint(Host, Port, Id);
}

/// <summary>
/// The members of a cluster, its name (hashed into the wire's cluster id) and optional shared key, as read from a
/// cluster file. Two formats, chosen by content: JSON (starting with '{', comments allowed)
/// <code>{"cluster":"demo","key":null,"members":[{"id":"n1","host":"127.0.0.1","port":7001}]}</code>
/// or text, one <c>id host port</c> per line, '#' starting a comment, blank lines ignored, with optional
/// <c>cluster NAME</c> and <c>key SECRET</c> lines before the first member. Immutable; every instance is valid.
/// </summary>
public sealed class ClusterDefinition
{
    public const string DefaultClusterName = "raftps";
    public const int MaxIdLength = 64;
    private const int MaxHostLength = 253;

    private readonly ClusterMember[] _members;

    /// <exception cref="ClusterDefinitionException">Any rule is broken (see <see cref="ClusterDefinitionError"/>).</exception>
    public ClusterDefinition(string clusterName, IEnumerable<ClusterMember> members, string? key = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        var list = members.ToArray();
        Validate(clusterName, key, list, lines: null, NodeIdOf);
        ClusterName = clusterName;
        Key = key;
        _members = list;
        ClusterId = Wire.ClusterId.FromName(clusterName);
    }

    public string ClusterName { get; }
    /// <summary>XxHash64 of the cluster name; every datagram carries it (<see cref="Wire.ClusterId.FromName"/>).</summary>
    public ulong ClusterId { get; }
    /// <summary>The client secret for data clients (keys derived by <see cref="Wire.WireKey"/>), or null. Never the peer secret.</summary>
    public string? Key { get; }
    /// <summary>Members in file order.</summary>
    public IReadOnlyList<ClusterMember> Members => _members;

    /// <summary>The member with this id (ids compare case-insensitively), or null.</summary>
    public ClusterMember? Find(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        foreach (var m in _members)
            if (string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase)) return m;
        return null;
    }

    /// <summary>The member with this numeric node id, or null.</summary>
    public ClusterMember? Find(ulong nodeId)
    {
        foreach (var m in _members)
            if (m.NodeId == nodeId) return m;
        return null;
    }

    /// <summary>A copy with <paramref name="member"/> added (validated like a file).</summary>
    public ClusterDefinition WithMember(ClusterMember member)
    {
        ArgumentNullException.ThrowIfNull(member);
        return new ClusterDefinition(ClusterName, _members.Append(member), Key);
    }

    /// <summary>A copy without the member <paramref name="id"/>.</summary>
    /// <exception cref="ClusterDefinitionException">No such member, or it is the last one.</exception>
    public ClusterDefinition WithoutMember(string id)
    {
        var m = Find(id) ?? throw new ClusterDefinitionException(ClusterDefinitionError.Invalid, $"'{id}' is not a member of cluster '{ClusterName}'", memberId: id);
        return new ClusterDefinition(ClusterName, _members.Where(x => !ReferenceEquals(x, m)), Key);
    }

    /// <summary>Stable nonzero 64-bit node id: XxHash64 of the UTF-8 id (0 maps to 1, since the core reserves 0 for "none").</summary>
    public static ulong NodeIdOf(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        ulong h = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(id));
        return h == 0 ? 1 : h;
    }

    // ------------------------------------------------------------------ reading

    /// <summary>Reads and parses a cluster file; errors name the file and line.</summary>
    /// <exception cref="ClusterDefinitionException">The file cannot be read or is invalid.</exception>
    public static ClusterDefinition Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            throw new ClusterDefinitionException(ClusterDefinitionError.Unreadable, $"cannot read cluster file: {e.Message}", filePath: path, inner: e);
        }
        try
        {
            return Parse(text);
        }
        catch (ClusterDefinitionException e)
        {
            throw e.WithFile(path);
        }
    }

    /// <summary>Parses JSON (text starting with '{' or a // or /* comment) or the line format.</summary>
    /// <exception cref="ClusterDefinitionException">The text is invalid.</exception>
    public static ClusterDefinition Parse(string text) => Parse(text, NodeIdOf);

    internal static ClusterDefinition Parse(string text, Func<string, ulong> nodeIdOf)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(nodeIdOf);
        var trimmed = text.AsSpan().TrimStart('\uFEFF').TrimStart();
        // JSON starts with '{' or a JSON comment; no text line can (ids never start with '/').
        bool json = trimmed.StartsWith("{") || trimmed.StartsWith("//") || trimmed.StartsWith("/*");
        var (name, key, members, lines) = json ? ParseJson(text) : ParseText(text);
        return Create(name, key, members, lines, nodeIdOf);
    }

    private static ClusterDefinition Create(string name, string? key, ClusterMember[] members, int[]? lines, Func<string, ulong> nodeIdOf)
    {
        Validate(name, key, members, lines, nodeIdOf);
        return new ClusterDefinition(name, key, members);
    }

    // Already validated.
    private ClusterDefinition(string name, string? key, ClusterMember[] members)
    {
        ClusterName = name;
        Key = key;
        _members = members;
        ClusterId = Wire.ClusterId.FromName(name);
    }

    private static (string Name, string? Key, ClusterMember[] Members, int[]? Lines) ParseText(string text)
    {
        string? name = null, key = null;
        var members = new List<ClusterMember>();
        var lines = new List<int>();
        int lineNo = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNo++;
            var tokens = Tokenize(rawLine);
            if (tokens.Count == 0) continue;
            if (tokens.Count == 2 && (IsDirective(tokens[0], "cluster") || IsDirective(tokens[0], "key")))
            {
                bool isName = IsDirective(tokens[0], "cluster");
                if (members.Count > 0)
                    throw new ClusterDefinitionException(ClusterDefinitionError.InvalidSyntax, $"'{tokens[0]}' must come before the first member", lineNo);
                if ((isName ? name : key) is not null)
                    throw new ClusterDefinitionException(ClusterDefinitionError.InvalidSyntax, $"'{tokens[0]}' given twice", lineNo);
                if (isName) name = tokens[1]; else key = tokens[1];
                continue;
            }
            if (tokens.Count != 3)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidSyntax,
                    $"expected 'id host port' (or 'cluster NAME' / 'key SECRET' before the members), got {tokens.Count} field(s): '{rawLine.Trim()}'", lineNo);
            if (!int.TryParse(tokens[2], NumberStyles.None, CultureInfo.InvariantCulture, out int port))
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidPort, $"port '{tokens[2]}' of member '{tokens[0]}' is not a number from 1 to 65535", lineNo, tokens[0]);
            members.Add(new ClusterMember(tokens[0], StripBrackets(tokens[1]), port));
            lines.Add(lineNo);
        }
        return (name ?? DefaultClusterName, key, members.ToArray(), lines.ToArray());
    }

    private static bool IsDirective(string token, string word) => string.Equals(token, word, StringComparison.OrdinalIgnoreCase);

    // Whitespace-separated tokens; a '#' that starts a token starts a comment (so a key may contain '#').
    private static List<string> Tokenize(string line)
    {
        var tokens = new List<string>(3);
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i])) i++;
            if (i >= line.Length || line[i] == '#') break;
            int start = i;
            while (i < line.Length && !char.IsWhiteSpace(line[i])) i++;
            tokens.Add(line[start..i]);
        }
        return tokens;
    }

    private static (string Name, string? Key, ClusterMember[] Members, int[]? Lines) ParseJson(string text)
    {
        ClusterFileJson? file;
        try
        {
            file = JsonSerializer.Deserialize(text, ClusterDefinitionJsonContext.Default.ClusterFileJson);
        }
        catch (JsonException e)
        {
            int? line = e.LineNumber is { } l ? (int)l + 1 : null;
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidJson, $"invalid cluster JSON: {StripLocation(e.Message)}", line, inner: e);
        }
        if (file is null)
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidJson, "invalid cluster JSON: the document is null", 1);

        var lines = MemberLines(text);
        var src = file.Members ?? [];
        var members = new ClusterMember[src.Count];
        for (int i = 0; i < src.Count; i++)
        {
            int? line = i < lines.Count ? lines[i] : null;
            var m = src[i] ?? throw new ClusterDefinitionException(ClusterDefinitionError.InvalidJson, $"member #{i + 1} is null", line, $"#{i + 1}");
            string label = m.Id ?? $"#{i + 1}";
            if (m.Id is null)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidId, $"member #{i + 1} has no \"id\"", line, label);
            if (m.Host is null)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidHost, $"member '{label}' has no \"host\"", line, label);
            if (m.Port is not { } port)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidPort, $"member '{label}' has no \"port\"", line, label);
            members[i] = new ClusterMember(m.Id, StripBrackets(m.Host), port);
        }
        return (file.Cluster ?? DefaultClusterName, file.Key, members, lines.Count == members.Length ? lines.ToArray() : null);
    }

    // System.Text.Json appends "Path: $.x | LineNumber: 2 | BytePositionInLine: 3." — we report the line ourselves.
    private static string StripLocation(string message)
    {
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    /// <summary>1-based line of each element of the top-level "members" array, for error messages.</summary>
    private static List<int> MemberLines(string text)
    {
        var result = new List<int>();
        var bytes = Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        bool inMembers = false;
        int lastOffset = 0, line = 1;
        try
        {
            while (reader.Read())
            {
                if (!inMembers)
                {
                    if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("members"u8))
                    {
                        if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray) break;
                        inMembers = true;
                    }
                    continue;
                }
                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.EndArray) break;
                if (reader.CurrentDepth != 2) continue;
                int offset = (int)reader.TokenStartIndex;
                line += bytes.AsSpan(lastOffset, offset - lastOffset).Count((byte)'\n');
                lastOffset = offset;
                result.Add(line);
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            }
        }
        catch (JsonException)
        {
            // The deserializer already accepted the document; a scan failure only costs line numbers.
        }
        return result;
    }

    private static string StripBrackets(string host) =>
        host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;

    // ------------------------------------------------------------------ validation

    private static void Validate(string? name, string? key, IReadOnlyList<ClusterMember?> members, int[]? lines, Func<string, ulong> nodeIdOf)
    {
        if (name is null || !IsValidId(name))
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidClusterName,
                $"cluster name '{name}' is invalid: use 1 to {MaxIdLength} letters, digits, '-', '_' or '.'");
        if (key is not null && string.IsNullOrWhiteSpace(key))
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidKey, "cluster key must be absent (null) or a non-blank secret");
        if (members.Count == 0)
            throw new ClusterDefinitionException(ClusterDefinitionError.NoMembers, $"cluster '{name}' has no members");

        var byId = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var byEndpoint = new Dictionary<string, int>(StringComparer.Ordinal);
        var byNodeId = new Dictionary<ulong, int>();
        for (int i = 0; i < members.Count; i++)
        {
            int? line = lines is not null && i < lines.Length ? lines[i] : null;
            var m = members[i] ?? throw new ClusterDefinitionException(ClusterDefinitionError.Invalid, $"member #{i + 1} is null", line, $"#{i + 1}");
            string label = m.Id ?? $"#{i + 1}";
            if (m.Id is null || !IsValidId(m.Id))
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidId,
                    $"member id '{m.Id}' is invalid: use 1 to {MaxIdLength} letters, digits, '-', '_' or '.'", line, label);
            if (!TryNormalizeHost(m.Host, out string? hostKey, out string? hostError))
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidHost, $"host '{m.Host}' of member '{m.Id}' is invalid: {hostError}", line, m.Id);
            if (m.Port is < 1 or > 65535)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidPort, $"port {m.Port} of member '{m.Id}' is out of range 1..65535", line, m.Id);
            if (!byId.TryAdd(m.Id, i))
                throw new ClusterDefinitionException(ClusterDefinitionError.DuplicateId,
                    $"member id '{m.Id}' is used twice{Where(lines, byId[m.Id])}", line, m.Id);
            string endpoint = FormatEndpoint(hostKey!, m.Port);
            if (!byEndpoint.TryAdd(endpoint, i))
                throw new ClusterDefinitionException(ClusterDefinitionError.DuplicateEndpoint,
                    $"members '{members[byEndpoint[endpoint]]!.Id}' and '{m.Id}' both use {endpoint}", line, m.Id);
            ulong nodeId = nodeIdOf(m.Id);
            if (nodeId == 0 || !byNodeId.TryAdd(nodeId, i))
                throw new ClusterDefinitionException(ClusterDefinitionError.NodeIdCollision,
                    nodeId == 0
                        ? $"member id '{m.Id}' hashes to node id 0, which is reserved; rename the member"
                        : $"member ids '{members[byNodeId[nodeId]]!.Id}' and '{m.Id}' hash to the same node id {nodeId:x16}; rename one of them",
                    line, m.Id);
        }
    }

    private static string Where(int[]? lines, int index) =>
        lines is not null && index < lines.Length ? $" (first on line {lines[index]})" : "";

    /// <summary>ASCII letters, digits, '-', '_', '.'; 1 to <see cref="MaxIdLength"/> characters.</summary>
    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength) return false;
        foreach (char c in id)
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.')) return false;
        return true;
    }

    // The comparison key for duplicate detection: canonical text of an IP literal, lower-cased host name otherwise.
    private static bool TryNormalizeHost(string? host, out string? key, out string? error)
    {
        key = null;
        if (string.IsNullOrEmpty(host)) { error = "it is empty"; return false; }
        if (host.Length > MaxHostLength) { error = $"longer than {MaxHostLength} characters"; return false; }
        if (IPAddress.TryParse(host, out var ip) && (host.Contains(':') || host.Count(c => c == '.') == 3))
        {
            if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
            {
                error = "the unspecified address cannot be reached; give the address peers and clients should use";
                return false;
            }
            key = ip.ToString();
            error = null;
            return true;
        }
        if (Uri.CheckHostName(host) != UriHostNameType.Dns)
        {
            error = "not an IP address or host name";
            return false;
        }
        key = host.ToLowerInvariant();
        error = null;
        return true;
    }

    // ------------------------------------------------------------------ endpoints

    /// <summary>"host:port", bracketing IPv6 literals.</summary>
    public static string FormatEndpoint(string host, int port) =>
        host.Contains(':') ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}" : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Parses a client endpoint list such as "127.0.0.1:7001,127.0.0.1:7002" (separators ',', ';' or whitespace;
    /// IPv6 as "[::1]:7001"; host names are resolved, IPv4 preferred).
    /// </summary>
    /// <exception cref="ClusterDefinitionException">Empty list, a malformed or unresolvable entry, a bad port or a duplicate.</exception>
    public static IReadOnlyList<IPEndPoint> ParseEndpoints(string endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return ParseEndpoints([endpoints]);
    }

    /// <summary>Like <see cref="ParseEndpoints(string)"/>, for several strings (each may itself be a list).</summary>
    public static IReadOnlyList<IPEndPoint> ParseEndpoints(IEnumerable<string> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var result = new List<IPEndPoint>();
        foreach (var part in endpoints)
        {
            if (part is null) continue;
            foreach (var token in part.Split([',', ';', ' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries))
            {
                var ep = ParseEndpoint(token);
                if (result.Contains(ep))
                    throw new ClusterDefinitionException(ClusterDefinitionError.InvalidEndpoint, $"endpoint '{token}' is listed twice");
                result.Add(ep);
            }
        }
        if (result.Count == 0)
            throw new ClusterDefinitionException(ClusterDefinitionError.NoMembers, "no endpoints given (expected host:port[,host:port...])");
        return result;
    }

    /// <summary>Parses one "host:port" or "[v6]:port"; a host name is resolved.</summary>
    /// <exception cref="ClusterDefinitionException">The text is not a usable endpoint.</exception>
    public static IPEndPoint ParseEndpoint(string endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        string text = endpoint.Trim();
        int colon = text.LastIndexOf(':');
        // "::1" alone has colons but no port; insist on the bracketed form for IPv6 with a port.
        bool bracketed = text.StartsWith('[');
        if (colon <= 0 || (!bracketed && text.IndexOf(':') != colon) || (bracketed && text[colon - 1] != ']'))
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidEndpoint, $"endpoint '{endpoint}' is not host:port (IPv6 as [addr]:port)");
        string host = StripBrackets(text[..colon]);
        string portText = text[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidPort, $"endpoint '{endpoint}' has port '{portText}', expected 1 to 65535");
        if (!TryNormalizeHost(host, out _, out string? error))
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidEndpoint, $"endpoint '{endpoint}': host is invalid: {error}");
        return ResolveEndPoint(host, port, null);
    }

    /// <summary>The endpoint when <paramref name="host"/> is an IP literal (brackets allowed), else null: no DNS involved.</summary>
    public static IPEndPoint? LiteralEndPoint(string host, int port)
    {
        ArgumentNullException.ThrowIfNull(host);
        return IPAddress.TryParse(StripBrackets(host), out var ip) ? new IPEndPoint(ip, port) : null;
    }

    /// <summary>An IP literal as is; a host name through DNS, preferring IPv4 (local clusters bind 127.0.0.1).</summary>
    /// <exception cref="ClusterDefinitionException">The name does not resolve.</exception>
    public static IPEndPoint ResolveEndPoint(string host, int port, string? memberId = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (LiteralEndPoint(host, port) is { } literal) return literal;
        host = StripBrackets(host);
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidHost,
                $"cannot resolve host '{host}'{(memberId is null ? "" : $" of member '{memberId}'")}: {e.Message}", memberId: memberId, inner: e);
        }
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                     ?? throw new ClusterDefinitionException(ClusterDefinitionError.InvalidHost,
                         $"host '{host}'{(memberId is null ? "" : $" of member '{memberId}'")} has no addresses", memberId: memberId);
        return new IPEndPoint(chosen, port);
    }

    // ------------------------------------------------------------------ writing

    /// <summary>The JSON form (indented), which <see cref="Parse(string)"/> reads back to an equal definition.</summary>
    public string ToJson()
    {
        var file = new ClusterFileJson
        {
            Cluster = ClusterName,
            Key = Key,
            Members = _members.Select(m => (MemberJson?)new MemberJson { Id = m.Id, Host = m.Host, Port = m.Port }).ToList(),
        };
        return JsonSerializer.Serialize(file, ClusterDefinitionJsonContext.Default.ClusterFileJson);
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> through a temp file and rename, so readers never see half a file.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, ToJson() + Environment.NewLine);
        File.Move(tmp, path, overwrite: true);
    }

    public override string ToString() => $"{ClusterName}: {string.Join(", ", _members.Select(m => $"{m.Id}@{m.Endpoint}"))}";
}
