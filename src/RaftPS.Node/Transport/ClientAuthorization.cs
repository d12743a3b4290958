using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>
/// Which credential may do what. Data operations (get, put, delete, compare-and-set, list, status) need the client
/// role, or the admin role, which includes it; every other operation — membership changes, leadership transfer,
/// fault injection, snapshots, and any operation added later (deny by default) — needs the admin role. A node that
/// holds no client key serves data operations to plaintext requests; a node that holds no key at all (loopback, or
/// started with --insecure) also serves admin operations to them. A node with any key but no admin key refuses admin
/// operations.
/// </summary>
public static class ClientAuthorization
{
    public static bool IsDataOperation(ClientOp op) =>
        op is ClientOp.Get or ClientOp.Put or ClientOp.Delete or ClientOp.CompareAndSet or ClientOp.List or ClientOp.Status;

    /// <summary><see cref="ReplyStatus.Ok"/>, <see cref="ReplyStatus.Unauthorized"/> or <see cref="ReplyStatus.Forbidden"/>, with the reason.</summary>
    public static (ReplyStatus Status, string? Error) Check(ClientOp op, CredentialRole role, Keyring keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (role == CredentialRole.None && keys.Has(CredentialRole.Client))
            return (ReplyStatus.Unauthorized, "unauthorized");
        if (IsDataOperation(op)) return (ReplyStatus.Ok, null);
        if (role == CredentialRole.Admin) return (ReplyStatus.Ok, null);
        if (keys.IsEmpty) return (ReplyStatus.Ok, null);
        return keys.Has(CredentialRole.Admin)
            ? (ReplyStatus.Forbidden, $"{op} needs the admin credential")
            : (ReplyStatus.Forbidden, $"{op} needs the admin credential, and this node has none configured");
    }
}
