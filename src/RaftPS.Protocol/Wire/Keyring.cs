namespace RaftPS.Protocol.Wire;

/// <summary>
/// The keys one endpoint holds, by role. For each role the first secret is the current one (used to send); every
/// listed secret is accepted on receipt, which is how a secret is rotated without downtime: add the new secret
/// everywhere as an extra, then make it current, then drop the old one. Immutable; swap a whole new keyring to rotate.
/// </summary>
public sealed class Keyring
{
    private readonly Dictionary<uint, WireKey> _byId = new();
    private readonly WireKey?[] _current = new WireKey?[4];

    /// <summary>An endpoint without keys: plaintext only.</summary>
    public static readonly Keyring Empty = new(0, ClusterCredentials.None);

    /// <exception cref="ArgumentException">A secret is used for two roles, or two secrets derive the same key id.</exception>
    public Keyring(ulong clusterId, ClusterCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ClusterId = clusterId;
        var peerSecrets = new HashSet<string>(credentials.Peer, StringComparer.Ordinal);
        foreach (var s in credentials.Client.Concat(credentials.Admin))
        {
            // A peer secret handed out as a client or admin secret would let that holder forge peer messages.
            if (peerSecrets.Contains(s)) throw new ArgumentException("a peer secret must not also be a client or admin secret");
        }
        Add(CredentialRole.Peer, credentials.Peer);
        Add(CredentialRole.Client, credentials.Client);
        Add(CredentialRole.Admin, credentials.Admin);
    }

    public ulong ClusterId { get; }
    public bool IsEmpty => _byId.Count == 0;

    /// <summary>True when this endpoint holds at least one key of <paramref name="role"/>.</summary>
    public bool Has(CredentialRole role) => Current(role) is not null;

    /// <summary>The key used to send as <paramref name="role"/>, or null when none is held.</summary>
    public WireKey? Current(CredentialRole role) => (int)role < _current.Length ? _current[(int)role] : null;

    /// <summary>The key with this id, or null.</summary>
    public WireKey? Find(uint keyId) => _byId.GetValueOrDefault(keyId);

    private void Add(CredentialRole role, IReadOnlyList<string> secrets)
    {
        foreach (var secret in secrets)
        {
            var key = WireKey.Derive(secret, role, ClusterId);
            if (_byId.TryGetValue(key.KeyId, out var existing))
            {
                // The same secret listed twice for one role is harmless; a 32-bit id collision between different keys is not.
                if (existing.Role == role) continue;
                throw new ArgumentException($"two secrets derive the same key id {key.KeyId:x8}; choose another secret");
            }
            _byId[key.KeyId] = key;
            _current[(int)role] ??= key;
        }
    }
}
