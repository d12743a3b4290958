BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:cmdlets = @(Get-Command -Module RaftPS -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
    # Cmdlets that change a cluster, a process or a file. (New-RaftHistory and Add-RaftHistoryOperation only build an
    # in-memory record, so they have nothing to confirm.)
    $inMemoryOnly = 'New-RaftHistory', 'Add-RaftHistoryOperation'
    $script:stateChanging = @(Get-Command -Module RaftPS -CommandType Cmdlet |
        Where-Object { $_.Verb -in 'Set', 'Remove', 'Add', 'Clear', 'Start', 'Stop', 'Move', 'New', 'Save' -and $_.Name -notin $inMemoryOnly } |
        ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:manifest = Join-Path (Get-RaftModulePath) 'RaftPS.psd1'
}

Describe 'The RaftPS module manifest' {
    It 'passes Test-ModuleManifest' {
        $m = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $m.Name | Should -Be 'RaftPS'
        $m.PowerShellVersion | Should -Be ([version]'7.6')
        $m.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'exports exactly the cmdlets it lists, and no functions, variables or aliases' {
        $data = Import-PowerShellDataFile -Path $manifest
        $listed = $data.CmdletsToExport | Sort-Object
        $exported = (Get-Command -Module RaftPS -CommandType Cmdlet).Name | Sort-Object
        $exported | Should -Be $listed
        $data.FunctionsToExport.Count | Should -Be 0
        $data.VariablesToExport.Count | Should -Be 0
        $data.AliasesToExport.Count | Should -Be 0
    }

    It 'ships its format file with a view for every output type' {
        $views = ([xml](Get-Content (Join-Path (Get-RaftModulePath) 'RaftPS.Format.ps1xml') -Raw)).Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName
        foreach ($t in 'RaftPS.Value', 'RaftPS.NodeState', 'RaftPS.NodeProcess', 'RaftPS.Member', 'RaftPS.Connection') { $views | Should -Contain $t }
        # Every type of ours that a cmdlet declares as output has a view, so none prints as a wall of properties.
        $declared = @(Get-Command -Module RaftPS -CommandType Cmdlet | ForEach-Object { $_.OutputType.Type } |
            Where-Object { $_ -and $_.FullName -like 'RaftPS.*' } | ForEach-Object FullName | Sort-Object -Unique)
        $declared.Count | Should -BeGreaterThan 8
        foreach ($t in $declared) { $views | Should -Contain $t -Because "cmdlets emit $t" }
    }
}

Describe '<Name> follows the cmdlet conventions' -ForEach $cmdlets {
    BeforeAll { $script:cmd = Get-Command $Name }

    It 'uses an approved verb' {
        (Get-Verb).Verb | Should -Contain $cmd.Verb
    }

    It 'declares its output type' {
        $attrs = $cmd.ImplementingType.GetCustomAttributes([System.Management.Automation.OutputTypeAttribute], $true)
        $attrs.Count | Should -BeGreaterThan 0
    }
}

Describe '<Name> supports -WhatIf and -Confirm' -ForEach $stateChanging {
    It 'has SupportsShouldProcess' {
        $cmd = Get-Command $Name
        $cmd.Parameters.Keys | Should -Contain 'WhatIf'
        $cmd.Parameters.Keys | Should -Contain 'Confirm'
    }
}

Describe 'Errors without a cluster' {
    It 'reports NotConnected when there is no connection' {
        Disconnect-RaftCluster
        { Get-RaftValue -Key x -ErrorAction Stop } | Should -Throw -ErrorId 'NotConnected,RaftPS.Commands.GetRaftValueCommand'
    }

    It 'reports InvalidCluster for a broken cluster file' {
        $file = Join-Path TestDrive: 'bad.json'
        Set-Content -LiteralPath $file -Value '{ "cluster": "x", "members": [ { "id": "n1", "host": "127.0.0.1" } ] }'
        { Connect-RaftCluster -ClusterFile $file -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidCluster,RaftPS.Commands.ConnectRaftClusterCommand'
    }

    It 'reports NotFound for a node id that is not in the cluster file' {
        $file = Join-Path TestDrive: 'one.json'
        Set-Content -LiteralPath $file -Value '{ "cluster": "x", "members": [ { "id": "n1", "host": "127.0.0.1", "port": 7001 } ] }'
        { Start-RaftNode -Id n9 -ClusterFile $file -DataPath (Join-Path TestDrive: 'n9') -ErrorAction Stop } |
            Should -Throw -ErrorId 'NotFound,RaftPS.Commands.StartRaftNodeCommand'
        { Start-RaftNode -Id n9 -ClusterFile $file -DataPath (Join-Path TestDrive: 'n9') -Background -ErrorAction Stop } |
            Should -Throw -ErrorId 'NotFound,RaftPS.Commands.StartRaftNodeCommand'
    }

    It 'reports InvalidArgument for a first start with neither a cluster file nor -Join' {
        { Start-RaftNode -Id n1 -DataPath (Join-Path TestDrive: 'empty') -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,RaftPS.Commands.StartRaftNodeCommand'
        { Start-RaftNode -Id n1 -DataPath (Join-Path TestDrive: 'empty') -Join 127.0.0.1:7001 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,RaftPS.Commands.StartRaftNodeCommand'
    }

    It 'stops a wait at once when the pipeline is stopped (Ctrl+C)' {
        $ps = [PowerShell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$(Join-Path (Get-RaftModulePath) 'RaftPS.psd1')'; Connect-RaftCluster -Endpoint 127.0.0.1:9 -ClusterName nothing | Out-Null; Wait-RaftLeader -TimeoutSeconds 600")
            $async = $ps.BeginInvoke()
            Start-Sleep -Seconds 3
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 5
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        } finally {
            $ps.Dispose()
        }
    }
}
