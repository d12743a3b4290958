using System.Net;
using RaftPS.Protocol;

namespace RaftPS.Client;

/// <summary>Stable error ids (the PowerShell module uses them as ErrorRecord ids; scripts may match on them).</summary>
public static class RaftErrorIds
{
    public const string ClientError = "RaftPS.ClientError";
    public const string KeyNotFound = "RaftPS.KeyNotFound";
    public const string VersionMismatch = "RaftPS.VersionMismatch";
    public const string ValueTooLarge = "RaftPS.ValueTooLarge";
    public const string BadRequest = "RaftPS.BadRequest";
    public const string Unavailable = "RaftPS.Unavailable";
    public const string Timeout = "RaftPS.Timeout";
    public const string MembershipRejected = "RaftPS.MembershipRejected";
}

/// <summary>Base of every error the cluster (or the lack of one) causes. Argument mistakes are ArgumentExceptions instead.</summary>
public class RaftClientException : Exception
{
    public RaftClientException(string message) : base(message) { }
    public RaftClientException(string message, Exception? inner) : base(message, inner) { }

    /// <summary>Stable id for this kind of error (see <see cref="RaftErrorIds"/>).</summary>
    public virtual string ErrorId => RaftErrorIds.ClientError;
}

/// <summary>Get or Delete of a key that does not exist.</summary>
public sealed class RaftKeyNotFoundException(string key, string? detail = null)
    : RaftClientException($"key '{key}' not found" + (detail is null ? "" : $": {detail}"))
{
    public string Key { get; } = key;
    public override string ErrorId => RaftErrorIds.KeyNotFound;
}

/// <summary>A compare-and-set whose expectation did not hold; the write was not made.</summary>
public sealed class RaftVersionMismatchException(string key, ulong currentVersion, ulong? expectedVersion)
    : RaftClientException(
        $"compare-and-set of '{key}' failed: current version is {(currentVersion == 0 ? "0 (key absent)" : currentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture))}" +
        (expectedVersion is { } e ? $", expected {e}" : ", expected value differs"))
{
    public string Key { get; } = key;
    /// <summary>The key's version when the comparison ran; 0 when the key does not exist.</summary>
    public ulong CurrentVersion { get; } = currentVersion;
    public ulong? ExpectedVersion { get; } = expectedVersion;
    public override string ErrorId => RaftErrorIds.VersionMismatch;
}

/// <summary>The value (or the whole request) exceeds a limit of the node or the wire; nothing was written.</summary>
public sealed class RaftValueTooLargeException(string key, string? detail)
    : RaftClientException($"value for '{key}' is too large" + (detail is null ? "" : $": {detail}"))
{
    public string Key { get; } = key;
    public override string ErrorId => RaftErrorIds.ValueTooLarge;
}

/// <summary>The node rejected the request as malformed (e.g. a key over the node's size limit).</summary>
public sealed class RaftBadRequestException(string message) : RaftClientException(message)
{
    public override string ErrorId => RaftErrorIds.BadRequest;
}

/// <summary>
/// No leader with a quorum answered before the deadline, and the request is known not to have taken effect: a read,
/// a status or leader query, or a write that never left this machine. Safe to retry. (A write that was sent and not
/// definitively answered is a <see cref="RaftTimeoutException"/> instead.)
/// </summary>
public sealed class RaftUnavailableException(string message, IReadOnlyList<IPEndPoint> triedEndpoints) : RaftClientException(message)
{
    /// <summary>Every endpoint contacted, in the order first tried.</summary>
    public IReadOnlyList<IPEndPoint> TriedEndpoints { get; } = triedEndpoints;
    public override string ErrorId => RaftErrorIds.Unavailable;
}

/// <summary>
/// A write got no definitive answer before the deadline. When <see cref="OutcomeUnknown"/> is true it may or may not
/// have been applied (thesis §6.3: a timed-out request is unknown, not failed): read the key before deciding to
/// retry. Deliberately not a <see cref="RaftUnavailableException"/>, so a blanket "retry when unavailable" handler
/// cannot apply a write twice.
/// </summary>
public sealed class RaftTimeoutException(string message, bool outcomeUnknown, IReadOnlyList<IPEndPoint> triedEndpoints) : RaftClientException(message)
{
    public bool OutcomeUnknown { get; } = outcomeUnknown;
    public IReadOnlyList<IPEndPoint> TriedEndpoints { get; } = triedEndpoints;
    public override string ErrorId => RaftErrorIds.Timeout;
}

/// <summary>
/// The leader refused a membership change; <see cref="Reason"/> says why (unknown member, duplicate id or address, a
/// change already in progress, it would leave fewer reachable caught-up voters than a quorum, a learner too far behind,
/// a removed id). Nothing changed.
/// </summary>
public sealed class RaftMembershipException(MembershipError reason, string message) : RaftClientException(message)
{
    public MembershipError Reason { get; } = reason;
    public override string ErrorId => RaftErrorIds.MembershipRejected;
}
