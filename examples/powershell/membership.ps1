#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Membership walkthrough: grow a 3-node cluster to 4 and shrink it back, on free local ports.
.DESCRIPTION
    Starts a 3-node cluster in the background (New-RaftCluster -Start), starts a fourth node as a joiner
    (Start-RaftNode -Join -Listen), adds it (Add-RaftMember waits until it has caught up and is a voter), moves
    leadership to it, removes it again and stops everything. Every node it starts is stopped at the end, also on
    failure.
.PARAMETER Path
    Directory for the cluster file, data and logs (a new temporary one by default).
.EXAMPLE
    dotnet pwsh ./examples/powershell/membership.ps1
#>
[CmdletBinding()]
param([string] $Path = (Join-Path ([IO.Path]::GetTempPath()) "raftps-membership-$PID"))
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../../module/RaftPS/RaftPS.psd1')

$cluster = New-RaftCluster -Name walkthrough -Nodes 3 -Path $Path -Start
$nodes = [System.Collections.Generic.List[object]]::new($cluster.Nodes)
try {
    Connect-RaftCluster -ClusterFile $cluster.ClusterFile | Out-Null
    Wait-RaftLeader | Format-Table Id, Role, Term
    1..100 | ForEach-Object { [pscustomobject]@{ Key = "item/$_"; Value = "$_" } } | Set-RaftValue

    $endpoint = "127.0.0.1:$([RaftPS.Protocol.FreePorts]::Udp(1)[0])"
    $nodes.Add((Start-RaftNode -Id n4 -DataPath (Join-Path $Path n4) -Join $cluster.Members[0].Endpoint -Listen $endpoint -ClusterName walkthrough -Background))
    Add-RaftMember -Id n4 -Endpoint $endpoint | Format-Table
    Get-RaftMember | Format-Table

    Move-RaftLeader -Id n4 | Format-Table Id, Role, Term
    Remove-RaftMember -Id n4 -Confirm:$false
    Get-RaftMember | Format-Table
    Wait-RaftLeader | Format-Table Id, Role, Term
    Write-Host "items still there: $((Get-RaftValue -Prefix item/).Count)"
} finally {
    $nodes | Stop-RaftNode
    Disconnect-RaftCluster
}
