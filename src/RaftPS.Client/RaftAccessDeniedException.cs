using RaftPS.Protocol;

namespace RaftPS.Client;

/// <summary>
/// The node refused the request because of its credential: <see cref="IsUnauthorized"/> when it carried none the node
/// accepts (no key, a wrong one, or one retired by a rotation), otherwise the credential's role may not do this
/// (a client credential asking for a membership change, leadership transfer, fault injection or snapshot). Nothing
/// was done; retrying with the same credential fails the same way.
/// </summary>
public sealed class RaftAccessDeniedException(string message, bool isUnauthorized) : RaftClientException(message)
{
    /// <summary>Stable ErrorIds: "RaftPS.Unauthorized" (no accepted credential) and "RaftPS.Forbidden" (wrong role).</summary>
    public const string UnauthorizedId = "RaftPS.Unauthorized";
    public const string ForbiddenId = "RaftPS.Forbidden";

    public bool IsUnauthorized { get; } = isUnauthorized;
    public override string ErrorId => IsUnauthorized ? UnauthorizedId : ForbiddenId;

    internal static RaftAccessDeniedException For(ClientReply reply) => reply.Status == ReplyStatus.Unauthorized
        ? new("the cluster did not accept this client's credential (missing, wrong, or retired client/admin key)", true)
        : new($"permission denied: {reply.Error ?? "this credential's role may not do that"}", false);
}
