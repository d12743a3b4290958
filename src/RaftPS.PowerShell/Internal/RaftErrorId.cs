namespace RaftPS.PowerShell;

/// <summary>
/// The ErrorIds of the module's ErrorRecords (FullyQualifiedErrorId is "Id,RaftPS.Commands.XxxCommand"). Stable:
/// scripts and drills match on them, so never rename one.
/// </summary>
public static class RaftErrorId
{
    public const string KeyNotFound = "KeyNotFound";
    public const string VersionMismatch = "VersionMismatch";
    public const string ValueTooLarge = "ValueTooLarge";
    /// <summary>No leader with a quorum answered in time; the operation did not take effect and may be retried.</summary>
    public const string NoQuorum = "NoQuorum";
    /// <summary>A write got no definitive answer in time: it may or may not have been applied.</summary>
    public const string Timeout = "Timeout";
    /// <summary>The node refused the request (e.g. fault injection not allowed, unknown member, bad value).</summary>
    public const string BadRequest = "BadRequest";
    public const string InvalidCluster = "InvalidCluster";
    /// <summary>A node, member or process id that does not exist.</summary>
    public const string NotFound = "NotFound";
    public const string NotConnected = "NotConnected";
    public const string InvalidArgument = "InvalidArgument";
    public const string NodeStartFailed = "NodeStartFailed";
    public const string NodeFailed = "NodeFailed";
    public const string NodeStopFailed = "NodeStopFailed";
    public const string ClientError = "ClientError";
    /// <summary>The id or address is a member already.</summary>
    public const string MemberExists = "MemberExists";
    /// <summary>Another membership change is still in progress; retry once it completed.</summary>
    public const string ChangeInProgress = "ChangeInProgress";
    /// <summary>The change would leave fewer reachable, caught-up voters than a quorum (-Force overrides).</summary>
    public const string WouldLoseQuorum = "WouldLoseQuorum";
    /// <summary>The learner is too far behind to be promoted.</summary>
    public const string LearnerBehind = "LearnerBehind";
    /// <summary>The id belonged to a removed member and cannot be reused.</summary>
    public const string RemovedId = "RemovedId";
    /// <summary>The cluster accepts none of this connection's credentials (missing, wrong, or retired by a rotation).</summary>
    public const string Unauthorized = "Unauthorized";
    /// <summary>The credential's role may not do this, e.g. a client key for a membership change (needs -AdminKeyFile).</summary>
    public const string Forbidden = "Forbidden";
    /// <summary>New-RaftKey: the key file exists already (-Force replaces it).</summary>
    public const string KeyFileExists = "KeyFileExists";
    /// <summary>Test-RaftReplica: a member's state digest differs from the leader's at the same index.</summary>
    public const string ReplicasDiffer = "ReplicasDiffer";
}
