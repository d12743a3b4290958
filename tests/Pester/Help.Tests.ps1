BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:cmdlets = @(Get-Command -Module RaftPS -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
}

Describe 'Help of <Name>' -ForEach $cmdlets {
    BeforeAll {
        $script:help = Get-Help $Name -Full
        $script:cmd = Get-Command $Name
    }

    It 'has a synopsis (not the generated syntax line)' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        ($help.description.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty
    }

    It 'describes every parameter' {
        foreach ($p in $cmd.Parameters.Keys | Where-Object { $common -notcontains $_ -or $_ -in 'WhatIf', 'Confirm' }) {
            $ph = $help.parameters.parameter | Where-Object name -eq $p
            $ph | Should -Not -BeNullOrEmpty -Because "-$p needs help"
            ($ph.description.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty -Because "-$p needs a description"
        }
    }

    It 'has at least two examples, each with code and an explanation' {
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        foreach ($ex in $help.examples.example) {
            $ex.code | Should -Not -BeNullOrEmpty
            ($ex.remarks.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty
        }
    }
}

Describe 'Get-Help -Examples' {
    It 'shows the Import-Csv pipeline example of Set-RaftValue' {
        $text = Get-Help Set-RaftValue -Examples | Out-String
        $text | Should -Match 'Import-Csv \./kv\.csv \| Set-RaftValue'
        $text | Should -Match 'Example 2'
    }

    It 'works under the invariant culture' {
        $pwsh = Get-PwshCommand
        $module = Join-Path (Get-RaftModulePath) 'RaftPS.psd1'
        $out = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -Command "[Globalization.CultureInfo]::CurrentUICulture = [Globalization.CultureInfo]::InvariantCulture; Import-Module '$module'; (Get-Help Get-RaftValue).Synopsis"
        ($out -join "`n") | Should -Match 'Reads keys'
    }
}
