#!/usr/bin/env pwsh
#Requires -Version 7.6
<#
.SYNOPSIS
    A failure drill you can read in one sitting: kill -9 the leader of a 3-node cluster under write load, bring it
    back, and prove with the recorded history that nothing acknowledged was lost and every read was linearizable.
.DESCRIPTION
    Starts three background nodes on this machine (127.0.0.1, 127.0.0.2, 127.0.0.3), runs a recorded workload
    (Start-RaftWorkload), kills the leader with Stop-RaftNode -Force, waits for a new leader and for writes to flow
    again, restarts the old leader from its data directory, then stops the workload (which reads every acknowledged
    write back) and checks the history with Test-RaftHistory. Everything it starts is stopped in `finally`, also on
    failure or Ctrl+C. Exits 1 when the drill finds a problem; the failing history is kept for Test-RaftHistory -Path.
    The Pester drills in tests/Pester/Drills.Tests.ps1 do this and more (partitions, SIGSTOP, membership, restarts)
    on local and remote hosts.
.PARAMETER ModulePath
    The RaftPS module folder (default: ./module/RaftPS, what build.ps1 publishes).
.PARAMETER Path
    Working directory for the cluster file, data and logs (default: a new temporary directory, removed at the end).
.EXAMPLE
    dotnet pwsh ./examples/failure-drill.ps1
#>
[CmdletBinding()]
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../module/RaftPS'),
    [string] $Path
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $ModulePath 'RaftPS.psd1')

$ownDir = -not $Path
if ($ownDir) { $Path = Join-Path ([IO.Path]::GetTempPath()) "raftps-failure-drill-$(Get-Random)" }
New-Item -ItemType Directory -Force -Path $Path | Out-Null

# 1. A cluster file: three members on three loopback addresses, each on a free UDP port.
$members = foreach ($i in 1..3) {
    $address = "127.0.0.$i"
    $probe = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Parse($address), 0))
    $port = $probe.Client.LocalEndPoint.Port
    $probe.Dispose()
    [ordered]@{ id = "n$i"; host = $address; port = $port }
}
$clusterFile = Join-Path $Path 'cluster.json'
@{ cluster = 'failure-drill'; members = @($members) } | ConvertTo-Json -Depth 4 | Set-Content $clusterFile

$nodes = @{}
$workload = $null
try {
    # 2. Three background nodes that accept fault injection; each returns a RaftPS.NodeProcess with its pid.
    foreach ($m in $members) {
        $nodes[$m.id] = Start-RaftNode -Id $m.id -ClusterFile $clusterFile -DataPath (Join-Path $Path "data/$($m.id)") `
            -Background -AllowFaultInjection -Confirm:$false
    }
    $connection = Connect-RaftCluster -ClusterFile $clusterFile
    $leader = Wait-RaftLeader -TimeoutSeconds 60
    Write-Host "cluster up; leader $($leader.Id)"

    # 3. A recorded load: 3 clients reading and writing, every operation timed into $workload.History.
    $workload = Start-RaftWorkload -Connection $connection -Clients 3 -Confirm:$false
    Wait-RaftWorkload $workload -Writes 100 -TimeoutSeconds 30 -ErrorAction Stop

    # 4. The fault: kill -9 the leader. The other two elect a new leader and keep acknowledging writes.
    Write-Host "kill -9 $($leader.Id) (pid $($nodes[$leader.Id].Pid))"
    $nodes[$leader.Id] | Stop-RaftNode -Force -Confirm:$false
    $next = Wait-RaftLeader -ExcludeId $leader.Id -TimeoutSeconds 30
    Write-Host "new leader $($next.Id)"
    Wait-RaftWorkload $workload -Writes 100 -TimeoutSeconds 30 -ErrorAction Stop

    # 5. Recovery: the old leader restarts from its data directory and catches up.
    $nodes[$leader.Id] = Start-RaftNode -Id $leader.Id -ClusterFile $clusterFile -DataPath (Join-Path $Path "data/$($leader.Id)") `
        -Background -AllowFaultInjection -Confirm:$false
    Wait-RaftWorkload $workload -Writes 50 -TimeoutSeconds 30 -ErrorAction Stop

    # 6. The verdict: read every acknowledged write back, then check the whole history for linearizability.
    $result = Stop-RaftWorkload $workload -Confirm:$false
    $verdict = Test-RaftHistory $workload.History
    $result | Format-List Operations, Acknowledged, Unknown, Reads, LedgerWrites, Verified, LostWrites, Unverified
    $verdict | Format-List IsLinearizable, Operations, Unknown, Explanation
    if ($result.LostWrites.Count -gt 0 -or $result.Unverified.Count -gt 0 -or -not $verdict.IsLinearizable -or $verdict.TimedOut) {
        $saved = Join-Path ([IO.Path]::GetTempPath()) "raftps-failure-drill-history-$(Get-Random).json"
        Export-RaftHistory -History $workload.History -Path $saved -Confirm:$false
        $verdict.FailingWindow | Format-Table ClientId, Kind, Key, Value, Output, Call, Return, Completed
        Write-Error "the drill found a problem; history saved to $saved (re-check: Test-RaftHistory -Path $saved)" -ErrorAction Continue
        exit 1
    }
    Write-Host 'drill passed: no acknowledged write lost, history linearizable'
} finally {
    if ($workload -and $workload.IsRunning) { $null = Stop-RaftWorkload $workload -SkipReadBack -Confirm:$false }
    $nodes.Values | Where-Object { $_ } | Stop-RaftNode -Force -Confirm:$false -ErrorAction SilentlyContinue
    Disconnect-RaftCluster -ErrorAction SilentlyContinue
    if ($ownDir) { Remove-Item -Recurse -Force -LiteralPath $Path -ErrorAction SilentlyContinue }
}
