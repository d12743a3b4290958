using System.Management.Automation;
using RaftPS.Client;
using RaftPS.PowerShell;

namespace RaftPS.Commands;

/// <summary>Checks that every replica holds exactly the same state.</summary>
/// <remarks>
/// <para>The leader appends a digest checkpoint to the log; every member hashes its whole state (keys, versions,
/// sessions, replicated settings) when it applies that entry, and a second checkpoint carries the leader's hash so each
/// member also compares itself. The reference is the digest most members hashed, so a drifted leader is found too.
/// Emits one RaftPS.ReplicaState per member: Agrees, Differs (its state is not what the log implies: a bug, a damaged
/// disk, a hand-edited data directory), Behind (it did not reach the checkpoint within
/// -TimeoutSeconds) or Unreachable. A member that differs is also reported as a non-terminating error with the ErrorId
/// ReplicasDiffer. With -Quiet, emits only $true when every member agrees, else $false. Needs the admin credential on
/// a keyed cluster, because it appends to the log.</para>
/// </remarks>
/// <example>
/// <code>Test-RaftReplica</code>
/// <para>Shows every member's digest at a new checkpoint and whether it agrees with the leader's.</para>
/// </example>
/// <example>
/// <code>Test-RaftReplica -Quiet | Should -BeTrue</code>
/// <para>At the end of a failure drill: every replica converged to the same state.</para>
/// </example>
[Cmdlet(VerbsDiagnostic.Test, "RaftReplica")]
[OutputType(typeof(ReplicaState), typeof(bool))]
public sealed class TestRaftReplicaCommand : RaftClientCmdlet
{
    /// <summary>How long to wait for every member to reach the checkpoint, in seconds (default 30).</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public double TimeoutSeconds { get; set; } = 30;

    /// <summary>Emit only $true (every member agrees) or $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void EndProcessing()
    {
        ReplicaCheck? check = null;
        if (!TryRun(() => check = Await(ct => Client.VerifyReplicasAsync(TimeSpan.FromSeconds(TimeoutSeconds), ct)), ActiveConnection)) return;
        if (Quiet)
        {
            WriteObject(check!.Complete);
            return;
        }
        foreach (var r in check!.Replicas)
        {
            WriteObject(ReplicaState.From(check, r));
            if (r.State == ReplicaDigestState.Differs)
                Fail(RaftErrorId.ReplicasDiffer, ErrorCategory.InvalidResult, $"{r.Id}'s state differs from the leader's: {r.Detail}", r.Id);
        }
    }
}
