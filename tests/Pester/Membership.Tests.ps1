# Membership through the cmdlets: a joiner started with -Join/-Listen, Add-RaftMember, Remove-RaftMember, errors.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:dir = New-TestDirectory 'raftps-members'
    $script:cluster = New-RaftCluster -Name members -Nodes 3 -Path $dir -Start
    $script:extra = [System.Collections.Generic.List[object]]::new()
    $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
    $null = Wait-RaftLeader -TimeoutSeconds 60
}

AfterAll {
    Stop-TestNode (@($script:cluster.Nodes) + @($script:extra))
    Disconnect-RaftCluster
    if ($script:dir) { Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Growing and shrinking the cluster' {
    It 'adds a joiner as a voter once it has caught up, and it holds the data' {
        1..20 | ForEach-Object { [pscustomobject]@{ Key = "m/$_"; Value = "$_" } } | Set-RaftValue
        $port = [RaftPS.Protocol.FreePorts]::Udp(1)[0]
        $script:n4Endpoint = "127.0.0.1:$port"
        $n4 = Start-RaftNode -Id n4 -DataPath (Join-Path $dir 'n4') -Join $cluster.Members[0].Endpoint -Listen $n4Endpoint -ClusterName members -Background
        $extra.Add($n4)
        $m = Add-RaftMember -Id n4 -Endpoint $n4Endpoint -TimeoutSeconds 120 -Confirm:$false
        $m.Id | Should -Be 'n4'
        $m.Role | Should -Be 'Voter'
        (Get-RaftMember).Id | Sort-Object | Should -Be @('n1', 'n2', 'n3', 'n4')
        $c4 = Connect-RaftCluster -Endpoint $n4Endpoint -ClusterName members
        try {
            (Get-RaftValue -Prefix m/ -Stale -Connection $c4).Count | Should -Be 20
        } finally {
            Disconnect-RaftCluster -Connection $c4
            $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
        }
    }

    It 'refuses a second member at the same address with MemberExists' {
        { Add-RaftMember -Id n5 -Endpoint $n4Endpoint -TimeoutSeconds 5 -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'MemberExists,RaftPS.Commands.AddRaftMemberCommand'
    }

    It 'changes nothing with -WhatIf' {
        Remove-RaftMember -Id n4 -WhatIf
        (Get-RaftMember).Id | Should -Contain 'n4'
    }

    It 'removes the member again' {
        Remove-RaftMember -Id n4 -Confirm:$false
        (Get-RaftMember).Id | Sort-Object | Should -Be @('n1', 'n2', 'n3')
        Set-RaftValue -Key m/after -Value ok
        (Get-RaftValue -Key m/after).Value | Should -Be 'ok'
    }

    It 'reports NotFound for a member that does not exist' {
        { Remove-RaftMember -Id n9 -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'NotFound,RaftPS.Commands.RemoveRaftMemberCommand'
    }
}
