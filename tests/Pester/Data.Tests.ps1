# Data, node status and connection cmdlets against a real 3-node cluster of background nodes on free loopback ports.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:dir = New-TestDirectory 'raftps-data'
    $script:cluster = New-RaftCluster -Name data -Nodes 3 -Path $dir -Start
    $script:conn = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
    $null = Wait-RaftLeader -TimeoutSeconds 60
}

AfterAll {
    Stop-TestNode $script:cluster.Nodes
    Disconnect-RaftCluster
    if ($script:dir) { Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'New-RaftCluster -Start' {
    It 'starts every node as its own process and reports its pid and endpoint' {
        $cluster.Nodes.Count | Should -Be 3
        foreach ($n in $cluster.Nodes) {
            $n.PSObject.TypeNames | Should -Contain 'RaftPS.NodeProcess'
            Get-Process -Id $n.Pid | Should -Not -BeNullOrEmpty
            $n.Endpoint | Should -Match '^127\.0\.0\.1:\d+$'
        }
    }
}

Describe 'Get-RaftNode and Wait-RaftLeader' {
    It 'shows all three nodes with exactly one leader that every node agrees on' {
        $leader = Wait-RaftLeader -TimeoutSeconds 30
        # Followers learn the leader from its first heartbeat, and a loaded machine may answer a status late: poll, bounded.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        do {
            $nodes = Get-RaftNode
            if (@($nodes | Where-Object Leader -eq $leader.Id).Count -eq 3) { break }
            Start-Sleep -Milliseconds 200
        } while ([DateTime]::UtcNow -lt $deadline)
        $nodes.Count | Should -Be 3
        @($nodes | Where-Object Role -eq 'Leader').Count | Should -Be 1
        $nodes | ForEach-Object { $_.Leader | Should -Be $leader.Id }
        $leader.Members.Count | Should -Be 3
    }

    It 'filters by id with wildcards and reports NotFound for an unknown id' {
        (Get-RaftNode -Id 'n[12]').Id | Sort-Object | Should -Be @('n1', 'n2')
        Get-RaftNode -Id nope -ErrorAction SilentlyContinue -ErrorVariable err | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -Be 'NotFound,RaftPS.Commands.GetRaftNodeCommand'
    }

    It 'lists the members as voters' {
        $m = Get-RaftMember
        $m.Id | Sort-Object | Should -Be @('n1', 'n2', 'n3')
        $m.Role | Select-Object -Unique | Should -Be 'Voter'
    }
}

Describe 'Import-Csv | Set-RaftValue and back' {
    It 'writes every row and reads the same rows back' {
        $in = Join-Path $dir 'kv.csv'
        $rows = 1..40 | ForEach-Object { [pscustomobject]@{ Key = "csv/{0:d3}" -f $_; Value = "value $_, with a comma and ünïcödé" } }
        $rows | Export-Csv -LiteralPath $in
        Import-Csv -LiteralPath $in | Set-RaftValue
        $out = Join-Path $dir 'out.csv'
        Get-RaftValue -Prefix csv/ | Select-Object Key, Value | Export-Csv -LiteralPath $out
        $back = Import-Csv -LiteralPath $out
        $back.Count | Should -Be 40
        for ($i = 0; $i -lt 40; $i++) {
            $back[$i].Key | Should -Be $rows[$i].Key
            $back[$i].Value | Should -Be $rows[$i].Value
        }
    }

    It 'emits RaftPS.Value objects with increasing versions on -PassThru' {
        $a = Set-RaftValue -Key pass/a -Value 1 -PassThru
        $b = Set-RaftValue -Key pass/a -Value 2 -PassThru
        $a.PSObject.TypeNames[0] | Should -Be 'RaftPS.Value'
        $b.Version | Should -BeGreaterThan $a.Version
        (Get-RaftValue -Key pass/a).Value | Should -Be '2'
    }
}

Describe 'Get-RaftValue' {
    BeforeAll {
        'app/a1', 'app/a2', 'app/b1', 'other/x' | ForEach-Object { Set-RaftValue -Key $_ -Value "v-$_" }
    }

    It 'matches wildcards like PowerShell does (* ? and [])' {
        (Get-RaftValue -Key 'app/*').Key | Should -Be @('app/a1', 'app/a2', 'app/b1')
        (Get-RaftValue -Key 'app/?1').Key | Should -Be @('app/a1', 'app/b1')
        (Get-RaftValue -Key 'app/[b]*').Key | Should -Be @('app/b1')
    }

    It 'emits nothing for a pattern without matches, but KeyNotFound for a missing exact key' {
        Get-RaftValue -Key 'none/*' | Should -BeNullOrEmpty
        { Get-RaftValue -Key missing -ErrorAction Stop } | Should -Throw -ErrorId 'KeyNotFound,RaftPS.Commands.GetRaftValueCommand'
    }

    It 'honours -ErrorAction: a missing key among others is non-terminating' {
        $got = Get-RaftValue -Key app/a1, missing, app/a2 -ErrorAction SilentlyContinue -ErrorVariable err
        $got.Key | Should -Be @('app/a1', 'app/a2')
        $err.Count | Should -Be 1
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'serves -Stale reads from local state' {
        (Get-RaftValue -Key other/x -Stale).Value | Should -Be 'v-other/x'
    }

    It 'takes keys from the pipeline' {
        ('app/a1', 'app/b1' | Get-RaftValue).Value | Should -Be @('v-app/a1', 'v-app/b1')
    }
}

Describe 'Compare-and-set with -ExpectedVersion' {
    It 'writes when the version matches and reports VersionMismatch, writing nothing, when it does not' {
        $v = Set-RaftValue -Key cas/k -Value first -PassThru
        $w = Set-RaftValue -Key cas/k -Value second -ExpectedVersion $v.Version -PassThru
        $w.Value | Should -Be 'second'
        { Set-RaftValue -Key cas/k -Value third -ExpectedVersion $v.Version -ErrorAction Stop } |
            Should -Throw -ErrorId 'VersionMismatch,RaftPS.Commands.SetRaftValueCommand'
        (Get-RaftValue -Key cas/k).Value | Should -Be 'second'
    }

    It 'treats version 0 as "must not exist"' {
        Set-RaftValue -Key cas/new -Value x -ExpectedVersion 0 -PassThru | Should -Not -BeNullOrEmpty
        { Set-RaftValue -Key cas/new -Value y -ExpectedVersion 0 -ErrorAction Stop } | Should -Throw -ErrorId 'VersionMismatch,*'
    }
}

Describe '-WhatIf changes nothing' {
    It 'Set-RaftValue -WhatIf writes nothing' {
        Set-RaftValue -Key whatif/k -Value x -WhatIf
        { Get-RaftValue -Key whatif/k -ErrorAction Stop } | Should -Throw -ErrorId 'KeyNotFound,*'
    }

    It 'Remove-RaftValue -WhatIf deletes nothing' {
        Set-RaftValue -Key whatif/r -Value keep
        Get-RaftValue -Key whatif/r | Remove-RaftValue -WhatIf
        (Get-RaftValue -Key whatif/r).Value | Should -Be 'keep'
    }
}

Describe 'Remove-RaftValue' {
    It 'deletes what Get-RaftValue pipes in' {
        'del/1', 'del/2', 'del/3' | ForEach-Object { Set-RaftValue -Key $_ -Value x }
        Get-RaftValue -Key 'del/*' | Remove-RaftValue -Confirm:$false
        Get-RaftValue -Key 'del/*' | Should -BeNullOrEmpty
    }

    It 'reports KeyNotFound for a missing key' {
        { Remove-RaftValue -Key del/none -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'KeyNotFound,RaftPS.Commands.RemoveRaftValueCommand'
    }
}

Describe 'Tab completion' {
    It 'completes keys from the cluster' {
        Set-RaftValue -Key 'complete/alpha' -Value 1
        # Completion gives up after its time budget; a loaded machine gets a few tries.
        foreach ($try in 1..3) {
            $r = TabExpansion2 -inputScript 'Get-RaftValue -Key complete/al' -cursorColumn 'Get-RaftValue -Key complete/al'.Length
            if ($r.CompletionMatches.CompletionText -contains 'complete/alpha') { break }
        }
        $r.CompletionMatches.CompletionText | Should -Contain 'complete/alpha'
    }

    It 'completes member ids' {
        foreach ($try in 1..3) {
            $r = TabExpansion2 -inputScript 'Get-RaftNode -Id n' -cursorColumn 'Get-RaftNode -Id n'.Length
            if ($r.CompletionMatches.Count -eq 3) { break }
        }
        $r.CompletionMatches.CompletionText | Should -Be @('n1', 'n2', 'n3')
    }
}

Describe 'Test-RaftReplica and Save-RaftSnapshot' {
    It 'shows every replica agreeing with the leader at a new checkpoint' {
        Set-RaftValue -Key replica/a -Value 1
        $r = @(Test-RaftReplica -TimeoutSeconds 30)
        $r.Count | Should -Be 3
        $r[0].PSObject.TypeNames[0] | Should -Be 'RaftPS.ReplicaState'
        $r | ForEach-Object { $_.State | Should -Be 'Agrees' -Because $_.Detail }
        $r.CheckpointIndex | Select-Object -Unique | Should -HaveCount 1
        # Replicas that report a digest at the same index report the same digest.
        $r | Group-Object DigestIndex | ForEach-Object { @($_.Group.Digest | Select-Object -Unique).Count | Should -Be 1 }
        Test-RaftReplica -Quiet | Should -BeTrue
    }

    It 'reports each node''s digest in Get-RaftNode' {
        $null = Test-RaftReplica -Quiet
        Get-RaftNode | ForEach-Object {
            $_.DigestIndex | Should -BeGreaterThan 0
            $_.Digest | Should -Match '^[0-9a-f]{32}$'
            $_.DigestMismatch | Should -BeNullOrEmpty
        }
    }

    It 'answers Save-RaftSnapshot with the index of the snapshot it took' {
        Set-RaftValue -Key snap/a -Value 1
        $applied = (Get-RaftNode -Id n2).AppliedIndex
        $s = Save-RaftSnapshot -Id n2 -Confirm:$false
        $s.Id | Should -Be 'n2'
        $s.SnapshotIndex | Should -BeGreaterOrEqual $applied
    }
}

Describe 'Move-RaftLeader' {
    It 'hands leadership to a follower' {
        $old = Wait-RaftLeader
        $target = (Get-RaftNode | Where-Object Role -ne 'Leader' | Select-Object -First 1).Id
        $new = Move-RaftLeader -Id $target -TimeoutSeconds 20 -Confirm:$false
        $new.Id | Should -Be $target
        $new.Role | Should -Be 'Leader'
        (Wait-RaftLeader).Id | Should -Not -Be $old.Id
    }
}

Describe 'Fault injection on nodes that do not allow it' {
    It 'is refused with BadRequest and changes nothing' {
        { Set-RaftFault -Id n1 -DropRate 0.5 -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'BadRequest,RaftPS.Commands.SetRaftFaultCommand'
        Set-RaftValue -Key fault/after -Value ok
        (Get-RaftValue -Key fault/after).Value | Should -Be 'ok'
    }
}

Describe 'Connections' {
    It 'uses -Connection over the default and reports NotConnected once it is closed' {
        $c2 = Connect-RaftCluster -Endpoint $cluster.Members[0].Endpoint -ClusterName data
        (Get-RaftValue -Key other/x -Connection $c2).Value | Should -Be 'v-other/x'
        Disconnect-RaftCluster -Connection $c2
        { Get-RaftValue -Key other/x -Connection $c2 -ErrorAction Stop } | Should -Throw -ErrorId 'NotConnected,*'
    }

    It 'reports NoQuorum against a cluster name the nodes do not serve' {
        $wrong = Connect-RaftCluster -Endpoint $cluster.Members[0].Endpoint -ClusterName not-this-one -TimeoutSeconds 1
        try {
            { Get-RaftValue -Key other/x -Connection $wrong -ErrorAction Stop } | Should -Throw -ErrorId 'NoQuorum,*'
        } finally {
            Disconnect-RaftCluster -Connection $wrong
            $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
        }
    }
}
