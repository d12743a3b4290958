#Requires -Version 7.6
# The history and workload cmdlets: New/Import/Export/Test-RaftHistory and Start/Wait/Stop-RaftWorkload.

BeforeAll {
    $modulePath = $env:RAFTPS_MODULE ?? (Join-Path $PSScriptRoot '../../module/RaftPS')
    Import-Module (Join-Path $modulePath 'RaftPS.psd1') -Force -ErrorAction Stop
    $dir = Join-Path ([IO.Path]::GetTempPath()) "raftps-history-$([Guid]::NewGuid().ToString('n').Substring(0, 8))"
    New-Item -ItemType Directory -Path $dir | Out-Null

    function Write-History([string] $Name, [object[]] $Operations) {
        $path = Join-Path $dir $Name
        @{ format = 'raftps-history/1'; startedAt = '2026-12-01T00:00:00Z'; timeUnit = 'microseconds'; operations = $Operations } |
            ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $path
        $path
    }

    # Put a, then put b, then a read that returns a: impossible once b's write has returned.
    $stalePath = Write-History 'stale.json' @(
        @{ client = 0; kind = 'Put'; key = 'k'; value = 'a'; call = 0; return = 10 },
        @{ client = 0; kind = 'Put'; key = 'k'; value = 'b'; call = 20; return = 30 },
        @{ client = 1; kind = 'Get'; key = 'k'; output = 'a'; call = 40; return = 50 },
        @{ client = 2; kind = 'Put'; key = 'other'; value = 'x'; call = 0; return = 100 })
    # The same with the read overlapping the second write, plus a write of unknown outcome: linearizable.
    $goodPath = Write-History 'good.json' @(
        @{ client = 0; kind = 'Put'; key = 'k'; value = 'a'; call = 0; return = 10 },
        @{ client = 0; kind = 'Put'; key = 'k'; value = 'b'; call = 20; return = 30 },
        @{ client = 1; kind = 'Get'; key = 'k'; output = 'a'; call = 25; return = 50 },
        @{ client = 2; kind = 'Put'; key = 'k'; value = 'c'; call = 60 },
        @{ client = 1; kind = 'Get'; key = 'k'; output = 'c'; call = 70; return = 80 })
}

AfterAll {
    Remove-Item -Recurse -Force -LiteralPath $dir -ErrorAction SilentlyContinue
}

Describe 'Test-RaftHistory' {
    It 'fails a history with a stale read and shows the smallest failing window' {
        $v = Test-RaftHistory -Path $stalePath
        $v.IsLinearizable | Should -BeFalse
        $v.TimedOut | Should -BeFalse
        $v.Operations | Should -Be 4
        $v.Key | Should -Be 'k'
        $v.WindowStart | Should -Be 20
        $v.WindowEnd | Should -Be 50
        @($v.FailingWindow | ForEach-Object { $_.Value ?? $_.Output }) | Should -Be @('b', 'a')
        $v.Explanation | Should -Match 'not linearizable'
    }

    It 'passes a linearizable history from the pipeline, counting unknown outcomes' {
        $v = Import-RaftHistory $goodPath | Test-RaftHistory
        $v.IsLinearizable | Should -BeTrue -Because $v.Explanation
        $v.Unknown | Should -Be 1
        $v.FailingWindow | Should -BeNullOrEmpty
    }

    It 'reports a missing file as NotFound and a malformed one as InvalidHistory' {
        { Test-RaftHistory -Path (Join-Path $dir 'missing.json') -ErrorAction Stop } |
            Should -Throw -ErrorId 'NotFound,RaftPS.Commands.TestRaftHistoryCommand'
        $bad = Join-Path $dir 'bad.json'
        '{ "format": "raftps-history/1", "operations": [ { "kind": "Put", "key": "k", "call": 1, "return": 2 } ] }' | Set-Content -LiteralPath $bad
        { Import-RaftHistory $bad -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidHistory,RaftPS.Commands.ImportRaftHistoryCommand'
    }

    It 'round-trips a history through Export-RaftHistory and Import-RaftHistory' {
        $h = Import-RaftHistory $goodPath
        $out = Join-Path $dir 'copy.json'
        $file = Export-RaftHistory -History $h -Path $out -PassThru -Confirm:$false
        $file.FullName | Should -Be $out
        $back = Import-RaftHistory $out
        $back.Count | Should -Be 5
        @($back.Operations | Where-Object { -not $_.Completed }).Count | Should -Be 1
        Export-RaftHistory -History $h -Path (Join-Path $dir 'whatif.json') -WhatIf
        Join-Path $dir 'whatif.json' | Should -Not -Exist
    }

    It 'creates an empty history, and nothing under -WhatIf' {
        (New-RaftHistory).Count | Should -Be 0
        New-RaftHistory -WhatIf | Should -BeNullOrEmpty
    }

    It 'records operations by hand: a missing key reads as absent, an unknown write has no return' {
        $h = New-RaftHistory
        $op = Add-RaftHistoryOperation $h -Kind Get -Key k -Call 0 -Return 5 -PassThru
        $op.Output | Should -BeNullOrEmpty
        $op.Completed | Should -BeTrue
        $u = Add-RaftHistoryOperation $h -ClientId 1 -Kind Put -Key k -Value v -Call 10 -Unknown -PassThru
        $u.Completed | Should -BeFalse
        $h.Count | Should -Be 2
        (Test-RaftHistory $h).IsLinearizable | Should -BeTrue
        { Add-RaftHistoryOperation $h -Kind Put -Key k -Call 0 -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument,RaftPS.Commands.AddRaftHistoryOperationCommand'
        # A read of a value nobody wrote is impossible.
        Add-RaftHistoryOperation $h -Kind Get -Key k -Output ghost -Call 20 -Return 30
        (Test-RaftHistory $h).IsLinearizable | Should -BeFalse
    }
}

Describe 'Start-, Wait- and Stop-RaftWorkload on a local cluster' {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'Hosts/DrillHosts.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot 'Drills/DrillLab.psm1') -Force
        $lab = $null
        try {
            $lab = New-DrillLab -Hosts (Get-DrillDefaultHost) -ModulePath $modulePath
            New-DrillCluster $lab -Count 3
        } catch {
            if ($lab) { Remove-DrillLab $lab; $lab = $null }
            throw
        }
    }
    AfterAll {
        if ($lab) { Remove-DrillLab $lab }
    }

    It 'records a linearizable history and reads back every acknowledged write' {
        $h = New-RaftHistory
        $w = Start-RaftWorkload -Connection $lab.Connection -History $h -Clients 2 -RegisterKeys 2 -KeyPrefix 'wl-test/' -Confirm:$false
        $w.IsRunning | Should -BeTrue
        $w.History | Should -Be $h
        Wait-RaftWorkload $w -Writes 50 -TimeoutSeconds 30 -ErrorAction Stop
        $r = Stop-RaftWorkload $w -Confirm:$false
        $w.IsRunning | Should -BeFalse
        $r.Acknowledged | Should -BeGreaterOrEqual 50
        $r.Operations | Should -Be $h.Count
        $r.LostWrites | Should -BeNullOrEmpty
        $r.Unverified | Should -BeNullOrEmpty
        $r.Verified | Should -Be $r.LedgerWrites
        @($h.Operations | Where-Object { -not $_.Key.StartsWith('wl-test/') }) | Should -BeNullOrEmpty
        (Stop-RaftWorkload $w -Confirm:$false) | Should -Be $r
        (Test-RaftHistory $h).IsLinearizable | Should -BeTrue
    }

    It 'catches a real stale read: a partitioned follower serving -Stale reads fails the history' {
        # Records by hand what a client saw, with the history's own clock: a write acknowledged by the majority, then
        # a -Stale read from a follower cut off before that write. The checker must reject it, and its window must
        # hold exactly that write and that read.
        $h = New-RaftHistory
        $key = "stale-$(Get-Random)"
        $leader = Get-DrillLeader $lab
        $follower = @($lab.Nodes.Values | Where-Object { $_.Running -and $_.Id -ne $leader })[0]

        $call = $h.Now(); Set-RaftValue -Connection $lab.Connection -Key $key -Value 'v1' -Confirm:$false -ErrorAction Stop
        Add-RaftHistoryOperation $h -Kind Put -Key $key -Value 'v1' -Call $call
        Wait-DrillCaughtUp $lab
        Disconnect-DrillNode $lab -Id $follower.Id
        $direct = Connect-RaftCluster -Endpoint $follower.Endpoint -ClusterName $lab.ClusterName -ErrorAction Stop
        try {
            $call = $h.Now(); Set-RaftValue -Connection $lab.Connection -Key $key -Value 'v2' -Confirm:$false -ErrorAction Stop
            Add-RaftHistoryOperation $h -Kind Put -Key $key -Value 'v2' -Call $call
            $call = $h.Now(); $seen = (Get-RaftValue -Connection $direct -Key $key -Stale -ErrorAction Stop).Value
            Add-RaftHistoryOperation $h -ClientId 1 -Kind Get -Key $key -Output $seen -Call $call
        } finally {
            Disconnect-RaftCluster -Connection $direct
            Connect-DrillNode $lab -Id $follower.Id
        }
        $seen | Should -Be 'v1' -Because 'the partitioned follower has not seen v2'

        $v = Test-RaftHistory $h
        $v.IsLinearizable | Should -BeFalse
        $v.Key | Should -Be $key
        @($v.FailingWindow | ForEach-Object { "$($_.Kind) $($_.Value)$($_.Output)" }) | Should -Be @('Put v2', 'Get v1')
    }

    It 'rejects a mix of more than 100 percent and starts nothing under -WhatIf' {
        { Start-RaftWorkload -Connection $lab.Connection -ReadPercent 80 -LedgerPercent 30 -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidArgument,RaftPS.Commands.StartRaftWorkloadCommand'
        Start-RaftWorkload -Connection $lab.Connection -WhatIf | Should -BeNullOrEmpty
    }

    It 'reports WorkloadStalled when the cluster loses its majority, and unverified keys after stopping' {
        $w = Start-RaftWorkload -Connection $lab.Connection -Clients 2 -LedgerPercent 50 -ReadBackTimeoutSeconds 2 -Confirm:$false
        try {
            Wait-RaftWorkload $w -Writes 20 -TimeoutSeconds 30 -ErrorAction Stop
            Stop-DrillNode $lab -Id 'n1', 'n2'
            { Wait-RaftWorkload $w -Writes 20 -TimeoutSeconds 4 -ErrorAction Stop } |
                Should -Throw -ErrorId 'WorkloadStalled,RaftPS.Commands.WaitRaftWorkloadCommand'
        } finally {
            $r = Stop-RaftWorkload $w -Confirm:$false
        }
        $r.Unverified | Should -Not -BeNullOrEmpty -Because 'with no majority nothing can be read back'
        $r.LostWrites | Should -BeNullOrEmpty
    }
}
