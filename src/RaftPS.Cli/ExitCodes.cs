using System.Net.Sockets;
using RaftPS.Client;
using RaftPS.Node.StateMachine;
using RaftPS.Node.Storage;
using RaftPS.Protocol;

namespace RaftPS.Cli;

/// <summary>
/// The process exit codes of <c>raftps</c>. They are part of the command-line contract (scripts test them), so a code
/// never changes meaning; new kinds of failure get new numbers.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>Anything not covered below (an unexpected error, a port already in use, a failed demo check).</summary>
    public const int Failure = 1;
    /// <summary>Bad arguments, an unusable cluster file or endpoint list, a node id that is not a member.</summary>
    public const int Usage = 2;
    /// <summary>The node's data directory is damaged (write-ahead log or snapshot); it refuses to start on it.</summary>
    public const int StorageCorruption = 3;
    public const int KeyNotFound = 4;
    public const int VersionMismatch = 5;
    /// <summary>
    /// No leader with a quorum answered in time; the operation did not take effect. Safe to retry.
    /// Also `transfer` when leadership did not reach the target in time.
    /// </summary>
    public const int Unavailable = 6;
    /// <summary>A write got no definitive answer in time: it may or may not have been applied.</summary>
    public const int Timeout = 7;
    public const int ValueTooLarge = 8;
    /// <summary>The node refused the request: malformed, or not allowed (e.g. `fault` on a node without fault injection).</summary>
    public const int BadRequest = 9;
    /// <summary>Any other error reported by the cluster.</summary>
    public const int ClientError = 10;
    /// <summary>The leader refused a membership change (unknown member, duplicate id/address, change in progress, quorum would be lost, learner behind, removed id).</summary>
    public const int MembershipRejected = 11;
    /// <summary>The node refused the credential: none it accepts (unauthorized) or the wrong role, e.g. a client key for a membership change (forbidden).</summary>
    public const int AccessDenied = 12;
    /// <summary>`verify`: a replica's state digest differs from the leader's at the same index (its state drifted).</summary>
    public const int ReplicasDiffer = 13;
    /// <summary>Interrupted by Ctrl+C or SIGTERM (a running node instead stops cleanly with 0).</summary>
    public const int Interrupted = 130;

    /// <summary>Exit code of a typed client error, by its stable <see cref="RaftClientException.ErrorId"/>.</summary>
    public static int ForErrorId(string errorId) => errorId switch
    {
        RaftErrorIds.KeyNotFound => KeyNotFound,
        RaftErrorIds.VersionMismatch => VersionMismatch,
        RaftErrorIds.Unavailable => Unavailable,
        RaftErrorIds.Timeout => Timeout,
        RaftErrorIds.ValueTooLarge => ValueTooLarge,
        RaftErrorIds.BadRequest => BadRequest,
        RaftErrorIds.MembershipRejected => MembershipRejected,
        RaftAccessDeniedException.UnauthorizedId or RaftAccessDeniedException.ForbiddenId => AccessDenied,
        _ => ClientError,
    };

    /// <summary>Exit code for an exception that ended a command.</summary>
    public static int For(Exception exception) => exception switch
    {
        RaftClientException e => ForErrorId(e.ErrorId),
        UsageException or ClusterDefinitionException or ArgumentException => Usage,
        WalCorruptionException or StorageRecoveryException or KvDataException => StorageCorruption,
        OperationCanceledException => Interrupted,
        SocketException or IOException or UnauthorizedAccessException => Failure,
        _ => Failure,
    };

    /// <summary>The table shown by <c>raftps --help</c>.</summary>
    public const string HelpText =
        """
        Exit codes:
            0  success
            1  other error (unexpected failure, port in use, a failed demo check)
            2  bad usage or configuration (arguments, cluster file, endpoints, unknown node id)
            3  storage corruption (node: damaged write-ahead log or snapshot, named with file and offset)
            4  key not found                       (RaftPS.KeyNotFound)
            5  compare-and-set expectation failed  (RaftPS.VersionMismatch)
            6  cluster unavailable, no effect      (RaftPS.Unavailable; transfer: leader did not move in time)
            7  write timed out, outcome unknown    (RaftPS.Timeout)
            8  value too large                     (RaftPS.ValueTooLarge)
            9  request refused by the node         (RaftPS.BadRequest: malformed, or fault injection disabled)
           10  other cluster error                 (RaftPS.ClientError)
           11  membership change refused           (RaftPS.MembershipRejected: unknown member, duplicate id or
               address, change in progress, quorum would be lost, learner behind, removed id)
           12  access denied                       (RaftPS.Unauthorized: no accepted key; RaftPS.Forbidden: wrong role,
               e.g. a client key for an admin operation)
           13  replicas differ                     (verify: a member's state digest differs from the leader's)
          130  interrupted (Ctrl+C / SIGTERM)
        """;
}

/// <summary>The command line is wrong in a way the parser cannot see (e.g. neither --cluster nor --endpoints). Exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
