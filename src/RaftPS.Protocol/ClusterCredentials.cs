using System.Security.Cryptography;

namespace RaftPS.Protocol;

/// <summary>
/// The secrets an endpoint holds, by role. A node holds the peer secret (only members ever get it) and usually the
/// client and admin secrets so it can check requests; a data client holds only the client secret (it may come from the
/// cluster file's <c>key</c>); an operator's tools hold the admin secret. For each role the first secret is the current
/// one and any further ones are still accepted (a rotation window). Secrets live in key files outside the cluster file:
/// one secret per line, '#' comments and blank lines ignored, first line current. Immutable.
/// </summary>
public sealed record ClusterCredentials
{
    public static readonly ClusterCredentials None = new();

    public IReadOnlyList<string> Peer { get; init; } = [];
    public IReadOnlyList<string> Client { get; init; } = [];
    public IReadOnlyList<string> Admin { get; init; } = [];

    public bool IsEmpty => Peer.Count == 0 && Client.Count == 0 && Admin.Count == 0;

    /// <summary>Reads a key file: one secret per line, first = current.</summary>
    /// <exception cref="ClusterDefinitionException">The file cannot be read, holds no secret, or a secret is too short.</exception>
    public static IReadOnlyList<string> LoadKeyFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            throw new ClusterDefinitionException(ClusterDefinitionError.Unreadable, $"cannot read key file: {e.Message}", filePath: path, inner: e);
        }
        var secrets = new List<string>();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.Length < MinSecretLength)
                throw new ClusterDefinitionException(ClusterDefinitionError.InvalidKey,
                    $"secret on line {lineNo} has {line.Length} characters; use at least {MinSecretLength} (raftps keygen makes one)", lineNo, filePath: path);
            if (!secrets.Contains(line)) secrets.Add(line);
        }
        if (secrets.Count == 0)
            throw new ClusterDefinitionException(ClusterDefinitionError.InvalidKey, "key file holds no secret", filePath: path);
        return secrets;
    }

    /// <summary>Shortest secret accepted from a key file: HKDF does not stretch a guessable passphrase, so secrets must be random.</summary>
    public const int MinSecretLength = 16;

    /// <summary>A new random secret (32 bytes, base64url): what <c>raftps keygen</c> prints.</summary>
    public static string GenerateSecret() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>These credentials with <paramref name="secret"/> (e.g. the cluster file's key) added as an accepted client secret.</summary>
    public ClusterCredentials WithClientSecret(string? secret) =>
        secret is null || Client.Contains(secret) ? this : this with { Client = Client.Count == 0 ? [secret] : [.. Client, secret] };
}
