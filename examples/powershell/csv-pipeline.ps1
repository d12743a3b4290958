#!/usr/bin/env pwsh
<#
.SYNOPSIS
    CSV in and out through the pipeline: Import-Csv | Set-RaftValue, then Get-RaftValue | Export-Csv.
.DESCRIPTION
    Writes every row of kv.csv (columns Key and Value) to the cluster, reads the config/ keys back with their
    versions, exports everything to a CSV file, and shows a compare-and-set. Against the three-terminal cluster
    (Start-DemoNode.ps1) by default; -ClusterFile picks another cluster.
.PARAMETER ClusterFile
    The cluster to use.
.PARAMETER OutFile
    Where to export all keys.
.EXAMPLE
    dotnet pwsh ./examples/powershell/csv-pipeline.ps1
#>
[CmdletBinding()]
param(
    [string] $ClusterFile = (Join-Path $PSScriptRoot '../cluster.json'),
    [string] $OutFile = './raftps-export.csv'
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../../module/RaftPS/RaftPS.psd1')

Connect-RaftCluster -ClusterFile $ClusterFile | Out-Null
Wait-RaftLeader -TimeoutSeconds 30 | Format-Table Id, Role, Term

# In: every row becomes a write; Key and Value bind by property name.
Import-Csv (Join-Path $PSScriptRoot 'kv.csv') | Set-RaftValue

# Out: linearizable reads by wildcard, with the version (log index) that wrote each value.
Get-RaftValue -Key 'config/*' | Format-Table
Get-RaftValue | Export-Csv -Path $OutFile
Write-Host "exported $((Import-Csv $OutFile).Count) keys to $OutFile"

# Compare-and-set: only one of two writers holding the same version wins.
$v = Get-RaftValue -Key config/retries
Set-RaftValue -Key config/retries -Value ([int]$v.Value + 1) -ExpectedVersion $v.Version -PassThru | Format-Table
Set-RaftValue -Key config/retries -Value 99 -ExpectedVersion $v.Version -ErrorAction SilentlyContinue -ErrorVariable lost
Write-Host "second writer: $($lost[0].FullyQualifiedErrorId)"
