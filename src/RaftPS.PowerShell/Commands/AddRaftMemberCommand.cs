using System.Diagnostics;
using System.Management.Automation;
using RaftPS.PowerShell;
using RaftPS.Protocol;

namespace RaftPS.Commands;

/// <summary>Adds a member to the cluster and waits until it has caught up.</summary>
/// <remarks>
/// <para>Adds the node with the given id and address to the configuration. It joins as a learner (Raft thesis section
/// 4.2.1): it receives the log without voting, so a slow newcomer cannot stall the cluster. Unless -AsLearner is
/// given, the leader promotes it to voter once it has caught up. The cmdlet shows progress (the member's lag) and
/// returns the RaftPS.Member once it holds everything the cluster had committed when it was added and, without
/// -AsLearner, is a voter; otherwise it reports the error Timeout after -TimeoutSeconds (the member stays added).
/// Start the node first with Start-RaftNode -Join -Listen. Adding the same id at the same address again is a no-op.
/// Errors: MemberExists, ChangeInProgress, RemovedId, NoQuorum. Supports -WhatIf and -Confirm.</para>
/// </remarks>
/// <example>
/// <code>Start-RaftNode -Id n4 -DataPath ./data/n4 -Join 127.0.0.1:7001 -Listen 127.0.0.1:7004 -ClusterName demo -Background
/// Add-RaftMember -Id n4 -Endpoint 127.0.0.1:7004</code>
/// <para>Starts a fourth node and makes it a voting member once it has caught up.</para>
/// </example>
/// <example>
/// <code>Add-RaftMember -Id r1 -Endpoint 10.0.0.9:7001 -AsLearner -TimeoutSeconds 600</code>
/// <para>Adds a read replica that never votes, waiting up to ten minutes for it to catch up.</para>
/// </example>
[Cmdlet(VerbsCommon.Add, "RaftMember", SupportsShouldProcess = true)]
[OutputType(typeof(Member))]
public sealed class AddRaftMemberCommand : RaftClientCmdlet
{
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(100);

    /// <summary>The new member's id (as it was started with Start-RaftNode -Id).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Id { get; set; } = "";

    /// <summary>The new member's address as host:port (its -Listen address).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Endpoint { get; set; } = "";

    /// <summary>Keep the member a learner: it receives the log but never votes.</summary>
    [Parameter]
    public SwitchParameter AsLearner { get; set; }

    /// <summary>How long to wait for the member to catch up (and become a voter), in seconds (default 120).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public double TimeoutSeconds { get; set; } = 120;

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"cluster '{ActiveConnection.ClusterName}'", $"Add member {Id} at {Endpoint}{(AsLearner ? " as a learner" : "")}")) return;
        TryRun(() =>
        {
            var added = Await(ct => Client.AddMemberAsync(Id, Endpoint, AsLearner, ct));
            var member = WaitCaughtUp(added.CommitIndex);
            if (member is not null) WriteObject(member);
        }, Id);
    }

    /// <summary>Polls the leader until the member holds <paramref name="target"/> (and is a voter unless -AsLearner).</summary>
    private Member? WaitCaughtUp(ulong target)
    {
        var clock = Stopwatch.StartNew();
        var timeout = TimeSpan.FromSeconds(TimeoutSeconds);
        var progress = new ProgressRecord(6, $"Adding {Id} to cluster '{ActiveConnection.ClusterName}'", "catching up");
        try
        {
            while (true)
            {
                var status = Await(ct => Client.MembersAsync(ct));
                var info = status.Members.FirstOrDefault(m => string.Equals(m.Id, Id, StringComparison.OrdinalIgnoreCase));
                if (info is null)
                {
                    Fail(RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, $"{Id} is no longer a member (removed while catching up?).", Id);
                    return null;
                }
                var member = Member.From(info);
                bool caughtUp = member.Match >= target;
                bool roleDone = AsLearner || (member.Role == MemberRoles.Voter && !status.Joint);
                if (caughtUp && roleDone) return member;
                if (clock.Elapsed >= timeout)
                {
                    Fail(RaftErrorId.Timeout, ErrorCategory.OperationTimeout,
                        $"{Id} was added but did not catch up within {TimeoutSeconds} s (now {member.Role}, match {member.Match} of {target}, {member.Lag} entries behind); it stays a member. Is the node running at {Endpoint}?", Id);
                    return null;
                }
                progress.StatusDescription = $"{member.Role}, {member.Lag} entries behind, {(member.Reachable ? "reachable" : "not reachable yet")}";
                progress.PercentComplete = target == 0 ? 0 : (int)Math.Min(99, 100.0 * member.Match / target);
                WriteProgress(progress);
                Sleep(PollEvery);
            }
        }
        finally
        {
            progress.RecordType = ProgressRecordType.Completed;
            try { WriteProgress(progress); } catch (PipelineStoppedException) { }
        }
    }
}
