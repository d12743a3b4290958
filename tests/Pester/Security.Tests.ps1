# Credentials from the module: a keyed 3-node cluster of background nodes; data clients, operators and strangers each get
# what their credential allows, and a wrong one gets a clear ErrorId.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:dir = New-TestDirectory 'raftps-security'
    $script:started = [System.Collections.Generic.List[object]]::new()
    $script:keys = @{}
    foreach ($role in 'peer', 'client', 'admin') { $keys[$role] = (New-RaftKey -Path (Join-Path $dir "$role.key")).FullName }
    $script:cluster = New-RaftCluster -Name secure -Nodes 3 -Path $dir
    foreach ($m in $cluster.Members) {
        $script:started.Add((Start-RaftNode -Id $m.Id -ClusterFile $cluster.ClusterFile -DataPath (Join-Path $dir $m.Id) -Background `
            -PeerKeyFile $keys.peer -ClientKeyFile $keys.client -AdminKeyFile $keys.admin))
    }
    $script:admin = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -ClientKeyFile $keys.client -AdminKeyFile $keys.admin -TimeoutSeconds 20
    $null = Wait-RaftLeader -Connection $admin -TimeoutSeconds 60
    $script:data = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -ClientKeyFile $keys.client -TimeoutSeconds 5
    $script:stranger = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 3
}

AfterAll {
    Stop-TestNode $script:started
    foreach ($c in $script:admin, $script:data, $script:stranger) { if ($c) { Disconnect-RaftCluster -Connection $c } }
    if ($script:dir) { Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'New-RaftKey' {
    It 'writes one random secret that only the owner may read' {
        $a = Get-Content -LiteralPath $keys.peer
        $b = Get-Content -LiteralPath $keys.client
        @($a).Count | Should -Be 1
        $a | Should -Match '^[A-Za-z0-9_-]{43}$'
        $a | Should -Not -Be $b
        if (-not $IsWindows) { (Get-Item -LiteralPath $keys.peer).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') }
    }

    It 'refuses to replace a key file unless -Force, and -WhatIf writes nothing' {
        $before = Get-Content -LiteralPath $keys.admin
        { New-RaftKey -Path $keys.admin -ErrorAction Stop } | Should -Throw -ErrorId 'KeyFileExists,RaftPS.Commands.NewRaftKeyCommand'
        New-RaftKey -Path (Join-Path $dir 'whatif.key') -WhatIf
        Join-Path $dir 'whatif.key' | Should -Not -Exist
        Get-Content -LiteralPath $keys.admin | Should -Be $before
    }
}

Describe 'A keyed cluster' {
    It 'serves data to a client-key connection' {
        Set-RaftValue -Connection $data -Key sec/a -Value one
        (Get-RaftValue -Connection $data -Key sec/a).Value | Should -Be 'one'
    }

    It 'refuses operator actions to a client key with Forbidden, and changes nothing' {
        $before = @(Get-RaftMember -Connection $admin).Count
        { Add-RaftMember -Connection $data -Id n9 -Endpoint 127.0.0.1:9 -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'Forbidden,RaftPS.Commands.AddRaftMemberCommand'
        { Test-RaftReplica -Connection $data -ErrorAction Stop } | Should -Throw -ErrorId 'Forbidden,RaftPS.Commands.TestRaftReplicaCommand'
        @(Get-RaftMember -Connection $admin).Count | Should -Be $before
    }

    It 'refuses a connection without a key with Unauthorized' {
        { Get-RaftValue -Connection $stranger -Key sec/a -ErrorAction Stop } | Should -Throw -ErrorId 'Unauthorized,RaftPS.Commands.GetRaftValueCommand'
        { Set-RaftValue -Connection $stranger -Key sec/b -Value x -ErrorAction Stop } | Should -Throw -ErrorId 'Unauthorized,*'
        { Get-RaftValue -Connection $data -Key sec/b -ErrorAction Stop } | Should -Throw -ErrorId 'KeyNotFound,*'
    }

    It 'lets the admin key check the replicas' {
        $r = @(Test-RaftReplica -Connection $admin -TimeoutSeconds 30)
        $r.Count | Should -Be 3
        $r | ForEach-Object { $_.State | Should -Be 'Agrees' -Because $_.Detail }
    }
}
