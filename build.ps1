#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds RaftPS, publishes the PowerShell module into ./module/RaftPS with its help, and runs the tests.
.DESCRIPTION
    Run it with the repo's own pwsh: `dotnet tool restore` once, then `dotnet pwsh ./build.ps1`. Steps: build the
    solution; publish src/RaftPS.PowerShell into ./module/RaftPS; generate en-US/RaftPS.dll-Help.xml from the doc
    comments (tools/New-RaftHelp.ps1, in a separate pwsh because it imports the module); run every test (the same
    `dotnet test` as the README and CI, which also runs each Pester file in real pwsh); run the simulation.
    Afterwards `Import-Module ./module/RaftPS` loads the module.
.PARAMETER Configuration
    Build configuration, Release by default.
.PARAMETER SkipTests
    Only build and publish the module.
.PARAMETER Seeds
    Seeds for the deterministic simulation run after the tests (0 skips it).
.EXAMPLE
    dotnet pwsh ./build.ps1
.EXAMPLE
    dotnet pwsh ./build.ps1 -SkipTests
#>
[CmdletBinding()]
param(
    [ValidateSet('Release', 'Debug')] [string] $Configuration = 'Release',
    [switch] $SkipTests,
    [ValidateRange(0, 1000000)] [int] $Seeds = 600
)
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

dotnet tool restore
if ($LASTEXITCODE -ne 0) { throw "dotnet tool restore failed" }

dotnet build RaftPS.sln -c $Configuration
if ($LASTEXITCODE -ne 0) { throw "build failed" }

$module = Join-Path $PSScriptRoot 'module/RaftPS'
if (Test-Path -LiteralPath $module) { Remove-Item -LiteralPath $module -Recurse -Force }
dotnet publish src/RaftPS.PowerShell/RaftPS.PowerShell.csproj -c $Configuration --no-build -o $module
if ($LASTEXITCODE -ne 0) { throw "publishing the module failed" }
# A separate pwsh: the generator imports the module, and a loaded binary module cannot be replaced in this session.
dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $PSScriptRoot 'tools/New-RaftHelp.ps1') -ModulePath $module
if ($LASTEXITCODE -ne 0) { throw "help generation failed" }
Write-Host "module published: Import-Module $module"
# Pester 6.2.0 is restored by tests/RaftPS.PowerShell.Tests (a PackageDownload) into the NuGet package folder.
$packages = $env:NUGET_PACKAGES ?? (Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages')
Write-Host "Pester for Invoke-Pester ./tests/Pester: Import-Module $(Join-Path $packages 'pester/6.2.0/tools/Pester.psd1')"
if ($SkipTests) { return }

dotnet test RaftPS.sln -c $Configuration --no-build
if ($LASTEXITCODE -ne 0) { throw "tests failed" }

if ($Seeds -gt 0) {
    dotnet run -c $Configuration --no-build --project tests/RaftPS.Simulation -- --seeds $Seeds
    if ($LASTEXITCODE -ne 0) { throw "simulation found violations" }
}
