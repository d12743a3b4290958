#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds RaftPS and runs its tests (the same commands as the README and CI).
.PARAMETER Configuration
    Build configuration, Release by default.
.PARAMETER SkipTests
    Only build.
.PARAMETER Seeds
    Seeds for the deterministic simulation run after the tests (0 skips it).
.EXAMPLE
    ./build.ps1
.EXAMPLE
    ./build.ps1 -Seeds 10000
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')] [string] $Configuration = 'Release',
    [switch] $SkipTests,
    [ValidateRange(0, 1000000)] [int] $Seeds = 600
)
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

dotnet build RaftPS.sln -c $Configuration
if ($LASTEXITCODE -ne 0) { throw "build failed" }
if ($SkipTests) { return }

dotnet test RaftPS.sln -c $Configuration --no-build
if ($LASTEXITCODE -ne 0) { throw "tests failed" }

if ($Seeds -gt 0) {
    dotnet run -c $Configuration --no-build --project tests/RaftPS.Simulation -- --seeds $Seeds
    if ($LASTEXITCODE -ne 0) { throw "simulation found violations" }
}
