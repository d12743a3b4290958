using System.Management.Automation;
using RaftPS.Client;
using RaftPS.Protocol;

namespace RaftPS.PowerShell;

/// <summary>Turns the client's and the cluster file's typed exceptions into ErrorRecords with stable ids and fitting categories.</summary>
internal static class RaftErrors
{
    public static ErrorRecord From(Exception e, object? target) => e switch
    {
        RaftKeyNotFoundException => new ErrorRecord(e, RaftErrorId.KeyNotFound, ErrorCategory.ObjectNotFound, target),
        RaftVersionMismatchException => new ErrorRecord(e, RaftErrorId.VersionMismatch, ErrorCategory.InvalidOperation, target),
        RaftValueTooLargeException => new ErrorRecord(e, RaftErrorId.ValueTooLarge, ErrorCategory.LimitsExceeded, target),
        RaftMembershipException m => Membership(m, target),
        RaftBadRequestException => new ErrorRecord(e, RaftErrorId.BadRequest, ErrorCategory.InvalidArgument, target),
        RaftAccessDeniedException { IsUnauthorized: true } => new ErrorRecord(e, RaftErrorId.Unauthorized, ErrorCategory.AuthenticationError, target),
        RaftAccessDeniedException => new ErrorRecord(e, RaftErrorId.Forbidden, ErrorCategory.PermissionDenied, target),
        RaftUnavailableException => new ErrorRecord(e, RaftErrorId.NoQuorum, ErrorCategory.ConnectionError, target),
        RaftTimeoutException => new ErrorRecord(e, RaftErrorId.Timeout, ErrorCategory.OperationTimeout, target),
        ClusterDefinitionException => new ErrorRecord(e, RaftErrorId.InvalidCluster, ErrorCategory.InvalidData, target),
        ArgumentException => new ErrorRecord(e, RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, target),
        RaftClientException => new ErrorRecord(e, RaftErrorId.ClientError, ErrorCategory.NotSpecified, target),
        _ => new ErrorRecord(e, RaftErrorId.ClientError, ErrorCategory.NotSpecified, target),
    };

    private static ErrorRecord Membership(RaftMembershipException e, object? target) => e.Reason switch
    {
        MembershipError.UnknownMember => new ErrorRecord(e, RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, target),
        MembershipError.DuplicateId or MembershipError.DuplicateAddress => new ErrorRecord(e, RaftErrorId.MemberExists, ErrorCategory.ResourceExists, target),
        MembershipError.ChangeInProgress => new ErrorRecord(e, RaftErrorId.ChangeInProgress, ErrorCategory.ResourceBusy, target),
        MembershipError.WouldLoseQuorum => new ErrorRecord(e, RaftErrorId.WouldLoseQuorum, ErrorCategory.InvalidOperation, target),
        MembershipError.LearnerBehind => new ErrorRecord(e, RaftErrorId.LearnerBehind, ErrorCategory.InvalidOperation, target),
        MembershipError.RemovedId => new ErrorRecord(e, RaftErrorId.RemovedId, ErrorCategory.InvalidArgument, target),
        _ => new ErrorRecord(e, RaftErrorId.InvalidArgument, ErrorCategory.InvalidArgument, target),
    };

    /// <summary>Errors a cmdlet reports as ErrorRecords; anything else is a bug and propagates as is.</summary>
    public static bool IsExpected(Exception e) =>
        e is RaftClientException or ClusterDefinitionException or ArgumentException or IOException or UnauthorizedAccessException;

    public static ErrorRecord Create(string errorId, ErrorCategory category, string message, object? target) =>
        new(new InvalidOperationException(message), errorId, category, target);
}
