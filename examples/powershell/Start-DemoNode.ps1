#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs one node of the demo cluster (examples/cluster.json, 127.0.0.1:7001-7003) in this terminal.
.DESCRIPTION
    The three-terminal cluster: run this in three terminals, once per node, then use the cluster from a fourth
    (see csv-pipeline.ps1). Each node shows a live status line; Ctrl+C stops it cleanly, and starting it again
    continues from its data directory (./raftps-demo/<id> by default).
      terminal 1:  dotnet pwsh ./examples/powershell/Start-DemoNode.ps1 -Id n1
      terminal 2:  dotnet pwsh ./examples/powershell/Start-DemoNode.ps1 -Id n2
      terminal 3:  dotnet pwsh ./examples/powershell/Start-DemoNode.ps1 -Id n3
    Needs the module: dotnet tool restore; dotnet pwsh ./build.ps1 -SkipTests
.PARAMETER Id
    The node to run: n1, n2 or n3.
.PARAMETER DataRoot
    Where the nodes keep their data (one directory per node).
.EXAMPLE
    dotnet pwsh ./examples/powershell/Start-DemoNode.ps1 -Id n1
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateSet('n1', 'n2', 'n3')] [string] $Id,
    [string] $DataRoot = './raftps-demo'
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../../module/RaftPS/RaftPS.psd1')
Start-RaftNode -Id $Id -ClusterFile (Join-Path $PSScriptRoot '../cluster.json') -DataPath (Join-Path $DataRoot $Id)
