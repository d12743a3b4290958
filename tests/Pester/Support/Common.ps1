# Shared by the module's Pester files (not the drills): dot-source in BeforeAll.

function Import-RaftTestModule {
    # The module under test: the staged one when run through the xunit project / Invoke-RaftPester.ps1, else the
    # one build.ps1 published.
    $path = $env:RAFTPS_MODULE
    if (-not $path) { $path = Join-Path $PSScriptRoot '../../../module/RaftPS' }
    Import-Module (Join-Path $path 'RaftPS.psd1') -Force -ErrorAction Stop
}

function Get-RaftModulePath {
    if ($env:RAFTPS_MODULE) { return $env:RAFTPS_MODULE }
    (Resolve-Path (Join-Path $PSScriptRoot '../../../module/RaftPS')).ProviderPath
}

function New-TestDirectory([string] $Name = 'raftps') {
    $dir = Join-Path ([IO.Path]::GetTempPath()) "$Name-$([Guid]::NewGuid().ToString('n').Substring(0, 8))"
    (New-Item -ItemType Directory -Path $dir).FullName
}

function Stop-TestNode {
    # Every node a test started is stopped by pid, also when the test failed: a clean stop first, then kill -9.
    param([object[]] $Nodes)
    foreach ($n in @($Nodes | Where-Object { $_ })) {
        try { $n | Stop-RaftNode -TimeoutSeconds 20 -Confirm:$false -ErrorAction Stop } catch { Write-Warning "clean stop of $($n.Id) failed: $_" }
        $p = Get-Process -Id $n.Pid -ErrorAction SilentlyContinue
        if ($p -and [Math]::Abs(($p.StartTime - $n.StartTime).TotalSeconds) -le 1) { Stop-Process -Id $n.Pid -Force -ErrorAction SilentlyContinue }
    }
}

function Get-PwshCommand {
    # The program (and leading argument) that runs this same pwsh: the pwsh apphost, or dotnet with pwsh.dll.
    $exe = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return , @($exe) }
    , @($exe, (Join-Path $PSHOME 'pwsh.dll'))
}
