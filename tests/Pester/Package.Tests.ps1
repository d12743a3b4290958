# Packaging: Compress-PSResource makes a nupkg that Install-PSResource installs from a local repository, into a
# temporary HOME, and the installed module works there.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    $script:dir = New-TestDirectory 'raftps-package'
    $script:repo = (New-Item -ItemType Directory -Path (Join-Path $dir 'repo')).FullName
    $script:tmpHome = (New-Item -ItemType Directory -Path (Join-Path $dir 'home')).FullName
}

AfterAll {
    if ($script:dir) { Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Packaging' {
    It 'compresses the module into a nupkg' {
        # Compress-PSResource packs the folder named after the module.
        $src = Join-Path $dir 'RaftPS'
        Copy-Item -LiteralPath (Get-RaftModulePath) -Destination $src -Recurse
        Compress-PSResource -Path $src -DestinationPath $repo
        $script:nupkg = Get-ChildItem -LiteralPath $repo -Filter 'RaftPS.*.nupkg'
        $nupkg | Should -HaveCount 1
    }

    It 'installs from a local repository into a fresh HOME and the installed module works' {
        $pwsh = Get-PwshCommand
        $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name raftps-local -Uri '$repo' -Trusted
Install-PSResource -Name RaftPS -Repository raftps-local -Scope CurrentUser -TrustRepository -Quiet
`$m = Import-Module RaftPS -PassThru
"path=`$(`$m.ModuleBase)"
"cmdlets=`$((Get-Command -Module RaftPS).Count)"
"help=`$((Get-Help Set-RaftValue).Synopsis)"
"@
        $env:HOME_SAVED = $env:HOME
        try {
            $env:HOME = $tmpHome
            $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command $script 2>&1
        } finally {
            $env:HOME = $env:HOME_SAVED
            Remove-Item Env:HOME_SAVED
        }
        $text = $out -join "`n"
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match ([regex]::Escape("path=$tmpHome"))
        $listed = (Import-PowerShellDataFile -Path (Join-Path (Get-RaftModulePath) 'RaftPS.psd1')).CmdletsToExport.Count
        $text | Should -Match "cmdlets=$listed\b"
        $text | Should -Match 'help=Writes a value'
    }
}
