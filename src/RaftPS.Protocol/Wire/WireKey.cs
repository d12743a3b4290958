using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RaftPS.Protocol.Wire;

/// <summary>
/// The AEAD keys derived from one secret of one role, for one cluster. Derivation is HKDF-SHA256 (RFC 5869): extract
/// with the cluster id as salt, then expand with a label naming the role and the direction, so
/// <list type="bullet">
/// <item>a client or admin secret can never produce a key that opens peer traffic (different label),</item>
/// <item>requests and replies of one role use different keys (a reflected request never parses as a reply),</item>
/// <item>the same secret in two clusters yields unrelated keys.</item>
/// </list>
/// The key id (also derived, never secret) tells a receiver which key sealed a datagram without trial decryption,
/// which is what lets a node accept the current and the previous secret during a rotation.
/// AES-256-GCM with 16-byte tags; the instances are locked per use because <see cref="AesGcm"/> is not thread-safe.
/// </summary>
public sealed class WireKey : IDisposable
{
    private const int KeySize = 32;
    private readonly AesGcm _peerOrRequest;
    private readonly AesGcm? _reply;

    private WireKey(CredentialRole role, uint keyId, AesGcm peerOrRequest, AesGcm? reply)
    {
        Role = role;
        KeyId = keyId;
        _peerOrRequest = peerOrRequest;
        _reply = reply;
    }

    public CredentialRole Role { get; }
    /// <summary>Non-zero public identifier of this key (zero marks plaintext datagrams).</summary>
    public uint KeyId { get; }

    /// <summary>Derives the keys of <paramref name="secret"/> for <paramref name="role"/> in cluster <paramref name="clusterId"/>.</summary>
    public static WireKey Derive(string secret, CredentialRole role, ulong clusterId)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (role is not (CredentialRole.Peer or CredentialRole.Client or CredentialRole.Admin))
            throw new ArgumentOutOfRangeException(nameof(role), "a key belongs to the peer, client or admin role");
        var salt = new byte[8 + 16];
        "raftps/v2/salt/"u8.CopyTo(salt);
        BinaryPrimitives.WriteUInt64LittleEndian(salt.AsSpan(16), clusterId);
        byte[] prk = HKDF.Extract(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret), salt);
        try
        {
            string label = role.ToString().ToLowerInvariant();
            uint keyId = BinaryPrimitives.ReadUInt32LittleEndian(Expand(prk, 4, $"raftps/v2/{label}/key-id"));
            if (keyId == 0) keyId = 1;
            if (role == CredentialRole.Peer)
                return new WireKey(role, keyId, NewAead(prk, "raftps/v2/peer/messages"), null);
            return new WireKey(role, keyId, NewAead(prk, $"raftps/v2/{label}/requests"), NewAead(prk, $"raftps/v2/{label}/replies"));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }

    /// <summary>
    /// Encrypts <paramref name="data"/> in place and writes the tag. <paramref name="header"/> is authenticated (it holds
    /// the key id and the nonce). Throws <see cref="InvalidOperationException"/> when this key's role cannot send <paramref name="kind"/>.
    /// </summary>
    public void Seal(MessageKind kind, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> header, Span<byte> data, Span<byte> tag)
    {
        var aead = AeadFor(kind) ?? throw new InvalidOperationException($"a {Role} key cannot seal {kind} datagrams");
        lock (aead) aead.Encrypt(nonce, data, data, tag, header);
    }

    /// <summary>Decrypts <paramref name="data"/> in place; false (data unspecified) when the tag does not verify or the role cannot carry <paramref name="kind"/>.</summary>
    public bool TryOpen(MessageKind kind, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> header, Span<byte> data, ReadOnlySpan<byte> tag)
    {
        var aead = AeadFor(kind);
        if (aead is null) return false;
        try
        {
            lock (aead) aead.Decrypt(nonce, data, tag, data, header);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    // Peer keys carry only Raft messages; client and admin keys carry only requests (one key) and replies (the other).
    private AesGcm? AeadFor(MessageKind kind) => (Role, kind) switch
    {
        (CredentialRole.Peer, MessageKind.Raft or MessageKind.Removed) => _peerOrRequest,
        (CredentialRole.Client or CredentialRole.Admin, MessageKind.ClientRequest) => _peerOrRequest,
        (CredentialRole.Client or CredentialRole.Admin, MessageKind.ClientReply) => _reply,
        _ => null,
    };

    private static byte[] Expand(byte[] prk, int length, string info) =>
        HKDF.Expand(HashAlgorithmName.SHA256, prk, length, Encoding.UTF8.GetBytes(info));

    private static AesGcm NewAead(byte[] prk, string info)
    {
        var key = Expand(prk, KeySize, info);
        try
        {
            return new AesGcm(key, Datagram.TagSize);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public void Dispose()
    {
        _peerOrRequest.Dispose();
        _reply?.Dispose();
    }
}
