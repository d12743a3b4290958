#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs RaftPS Pester files against a module folder and prints "pester: N passed, N failed".
.DESCRIPTION
    Imports Pester 6.2.0 (restored by the RaftPS.PowerShell.Tests project's PackageDownload into the NuGet package
    folder), points the tests at -ModulePath through $env:RAFTPS_MODULE, runs the files with detailed output and
    exits 1 when anything failed. The xunit project runs it once per file; by hand:
    dotnet pwsh ./tests/Pester/Invoke-RaftPester.ps1 -Path ./tests/Pester -ExcludeTag Drill
.PARAMETER Path
    Pester files or folders to run.
.PARAMETER ModulePath
    The module folder to test (default ./module/RaftPS, what build.ps1 publishes).
.PARAMETER PesterPath
    Pester.psd1 to import (default: Pester 6.2.0 in the NuGet package folder).
.PARAMETER Tag
    Run only tests with one of these tags.
.PARAMETER ExcludeTag
    Skip tests with one of these tags.
.EXAMPLE
    dotnet pwsh ./tests/Pester/Invoke-RaftPester.ps1 -Path ./tests/Pester/Data.Tests.ps1
.EXAMPLE
    dotnet pwsh ./tests/Pester/Invoke-RaftPester.ps1 -Path ./tests/Pester -Tag Drill
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string[]] $Path,
    [string] $ModulePath = (Join-Path $PSScriptRoot '../../module/RaftPS'),
    [string] $PesterPath,
    [string[]] $Tag,
    [string[]] $ExcludeTag
)
$ErrorActionPreference = 'Stop'
if (-not $PesterPath) {
    $root = $env:NUGET_PACKAGES ?? (Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages')
    $PesterPath = Join-Path $root 'pester/6.2.0/tools/Pester.psd1'
}
if (-not (Test-Path -LiteralPath $PesterPath)) {
    throw "Pester 6.2.0 not found at ${PesterPath}: run 'dotnet restore tests/RaftPS.PowerShell.Tests' (its PackageDownload fetches it)"
}
$env:RAFTPS_MODULE = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
Import-Module $PesterPath -Force

$cfg = New-PesterConfiguration
$cfg.Run.Path = $Path
$cfg.Run.PassThru = $true
$cfg.Output.Verbosity = 'Detailed'
if ($Tag) { $cfg.Filter.Tag = $Tag }
if ($ExcludeTag) { $cfg.Filter.ExcludeTag = $ExcludeTag }
$result = Invoke-Pester -Configuration $cfg

# Pester's own summary is not a count CI understands; this line is (PesterFileTests and .ci/run parse it).
$passed = [int]$result.PassedCount
$failed = [int]$result.FailedCount + [int]$result.FailedBlocksCount + [int]$result.FailedContainersCount
if ($null -eq $result -or ($result.Result -ne 'Passed' -and $failed -eq 0)) { $failed = 1 }
Write-Host "pester: $passed passed, $failed failed, $([int]$result.SkippedCount) skipped"
if ($failed -gt 0) { exit 1 }
exit 0
