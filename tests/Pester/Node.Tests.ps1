# Node lifecycle: clean stops release the port and the data directory, kill -9 loses nothing acknowledged,
# a foreground node stops on Ctrl+C (PowerShell.Stop) and on SIGTERM.
BeforeAll {
    . (Join-Path $PSScriptRoot 'Support/Common.ps1')
    Import-RaftTestModule
    $script:dir = New-TestDirectory 'raftps-node'
    $script:cluster = New-RaftCluster -Name life -Nodes 3 -Path $dir
    $script:started = [System.Collections.Generic.List[object]]::new()
    function Start-TestNode([string] $Id) {
        $n = Start-RaftNode -Id $Id -ClusterFile $cluster.ClusterFile -DataPath (Join-Path $dir $Id) -Background
        $script:started.Add($n)
        $n
    }
    $script:nodes = @{}
    # Started one by one here, so this also covers Start-RaftNode -Background on its own.
    foreach ($id in 'n1', 'n2', 'n3') { $nodes[$id] = Start-TestNode $id }
    $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
    $null = Wait-RaftLeader -TimeoutSeconds 60
}

AfterAll {
    Stop-TestNode $script:started
    Disconnect-RaftCluster
    if ($script:dir) { Remove-Item -LiteralPath $script:dir -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'Stop-RaftNode' {
    It 'stops a node cleanly: its log says so, and it restarts on the same port and data with nothing lost' {
        Set-RaftValue -Key life/clean -Value before
        $n3 = $nodes['n3']
        $n3 | Stop-RaftNode -Confirm:$false
        Get-Process -Id $n3.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-Content -LiteralPath $n3.LogPath -Raw | Should -Match 'raftps node n3 stopped'
        Set-RaftValue -Key life/while-down -Value written
        $nodes['n3'] = Start-TestNode n3
        (Get-RaftNode -Id n3).Role | Should -Not -Be 'Unreachable'
        (Get-RaftValue -Key life/clean).Value | Should -Be 'before'
        (Get-RaftValue -Key life/while-down).Value | Should -Be 'written'
    }

    It 'kills a node with -Force; the cluster goes on and the node recovers on restart' {
        $victim = $nodes['n2']
        Stop-RaftNode -Id n2 -Force -Confirm:$false
        Get-Process -Id $victim.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-Content -LiteralPath $victim.LogPath -Raw | Should -Not -Match 'raftps node n2 stopped\s*$'
        Set-RaftValue -Key life/after-kill -Value ok
        $nodes['n2'] = Start-TestNode n2
        # The restarted node catches up: a stale read on it sees the write made while it was down.
        $c2 = Connect-RaftCluster -Endpoint $nodes['n2'].Endpoint -ClusterName life -TimeoutSeconds 20
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            do {
                $v = Get-RaftValue -Key life/after-kill -Stale -Connection $c2 -ErrorAction SilentlyContinue
                if ($v) { break }
                Start-Sleep -Milliseconds 200
            } while ([DateTime]::UtcNow -lt $deadline)
            $v.Value | Should -Be 'ok'
        } finally {
            Disconnect-RaftCluster -Connection $c2
            $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
        }
    }

    It 'skips a node whose process has already exited' {
        $gone = [RaftPS.NodeProcess]@{ Id = 'x'; Endpoint = '127.0.0.1:1'; Pid = $nodes['n1'].Pid; DataPath = '/x'; LogPath = '/x.log'; ClusterFile = '/c'; StartTime = [DateTime]'2000-01-01' }
        { $gone | Stop-RaftNode -Confirm:$false -ErrorAction Stop } | Should -Not -Throw
        Get-Process -Id $nodes['n1'].Pid | Should -Not -BeNullOrEmpty
    }

    It 'reports NotFound for an id this session did not start' {
        { Stop-RaftNode -Id n9 -ErrorAction Stop } | Should -Throw -ErrorId 'NotFound,RaftPS.Commands.StopRaftNodeCommand'
    }

    It 'changes nothing with -WhatIf' {
        $nodes['n1'] | Stop-RaftNode -WhatIf
        Get-Process -Id $nodes['n1'].Pid | Should -Not -BeNullOrEmpty
    }
}

Describe 'Start-RaftNode' {
    It 'reports NodeStartFailed when the port is taken, and cleans up' {
        $file = Join-Path $dir 'clash.json'
        $port = ($nodes['n1'].Endpoint -split ':')[-1]
        Set-Content -LiteralPath $file -Value "{ `"cluster`": `"clash`", `"members`": [ { `"id`": `"c1`", `"host`": `"127.0.0.1`", `"port`": $port } ] }"
        { Start-RaftNode -Id c1 -ClusterFile $file -DataPath (Join-Path $dir 'clash') -ErrorAction Stop } |
            Should -Throw -ErrorId 'NodeStartFailed,RaftPS.Commands.StartRaftNodeCommand'
        # The data directory lock was released: the same directory opens again at once.
        { Start-RaftNode -Id c1 -ClusterFile $file -DataPath (Join-Path $dir 'clash') -ErrorAction Stop } |
            Should -Throw -ErrorId 'NodeStartFailed,*'
    }

    It 'runs in the foreground until the pipeline is stopped (Ctrl+C), then releases port and data' {
        $file = Join-Path $dir 'fg.json'
        $port = (New-RaftCluster -Name fg -Nodes 1 -Path (Join-Path $dir 'fg') ).Members[0].Endpoint
        $fgFile = Join-Path $dir 'fg/cluster.json'
        $data = Join-Path $dir 'fg/n1'
        $module = Join-Path (Get-RaftModulePath) 'RaftPS.psd1'
        foreach ($round in 1, 2) {
            $ps = [PowerShell]::Create()
            try {
                $null = $ps.AddScript("Import-Module '$module'; `$ProgressPreference = 'SilentlyContinue'; Start-RaftNode -Id n1 -ClusterFile '$fgFile' -DataPath '$data'")
                $async = $ps.BeginInvoke()
                $c = Connect-RaftCluster -ClusterFile $fgFile -TimeoutSeconds 30
                try {
                    $null = Wait-RaftLeader -Connection $c -TimeoutSeconds 60
                    if ($round -eq 1) { Set-RaftValue -Key fg/k -Value persisted -Connection $c }
                    else { (Get-RaftValue -Key fg/k -Connection $c).Value | Should -Be 'persisted' }
                } finally {
                    Disconnect-RaftCluster -Connection $c
                    $null = Connect-RaftCluster -ClusterFile $cluster.ClusterFile -TimeoutSeconds 20
                }
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
                $async.IsCompleted | Should -BeTrue
            } finally {
                $ps.Dispose()
            }
        }
    }

    It 'stops a foreground node cleanly on SIGTERM' {
        $fgFile = Join-Path $dir 'fg/cluster.json'
        $n = Start-RaftNode -Id n1 -ClusterFile $fgFile -DataPath (Join-Path $dir 'fg/n1') -Background -LogPath (Join-Path $dir 'fg/sigterm.log')
        $script:started.Add($n)
        $null = & kill -TERM $n.Pid
        (Get-Process -Id $n.Pid -ErrorAction SilentlyContinue)?.WaitForExit(30000)
        Get-Process -Id $n.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        Get-Content -LiteralPath $n.LogPath -Raw | Should -Match 'raftps node n1 stopped'
    }
}
