#Requires -Version 7.6
<#
    Failure drills for RaftPS (tag Drill), run in real pwsh with Pester 6.

    Every drill runs a recorded write/read workload (Start-RaftWorkload) while it breaks the cluster, then stops the
    workload — which reads every acknowledged ledger write back — and checks the whole recorded history with
    Test-RaftHistory. A drill passes only if no acknowledged write is lost and the history is linearizable.

    Host modes (one Describe each):
      Local   this machine, nodes on 127.0.0.1, 127.0.0.2 and 127.0.0.3; partitions by the nodes' fault injection.
      Netns   three stand-in hosts made here (network namespaces + bridge, one sshd each; needs root on Linux,
              skipped with the reason otherwise); nodes started through SSH remoting; partitions by ip link down.
      Remote  the hosts of -Hosts, -HostsFile or $env:RAFTPS_DRILL_HOSTS (JSON, see Hosts/DrillHosts.psm1) over SSH;
              when hosts are given only they are used (Local if they are all loopback addresses).

    RAFTPS_DRILL_MODES=Local|Netns restricts the run to one mode.

    Run:  dotnet pwsh ./tests/Pester/Invoke-RaftPester.ps1 -Path ./tests/Pester/Drills.Tests.ps1
    or:   Invoke-Pester -Container (New-PesterContainer -Path ./tests/Pester/Drills.Tests.ps1 -Data @{ HostsFile = './hosts.json' })
          Invoke-Pester -Container (New-PesterContainer -Path ./tests/Pester/Drills.Tests.ps1 -Data @{ Hosts = 'root@10.0.0.11', 'root@10.0.0.12', 'root@10.0.0.13' })
#>
param(
    # The hosts to run on: objects or hashtables with Address, User, KeyFile, Port, or "user@address:port" strings.
    # Loopback addresses run the nodes on this machine; others are reached over SSH remoting.
    [object[]] $Hosts,
    # A hosts file (JSON array of { Address, User, KeyFile, Port }) instead of -Hosts.
    [string] $HostsFile = $env:RAFTPS_DRILL_HOSTS
)

BeforeDiscovery {
    $modes = if ($Hosts -or $HostsFile) {
        Import-Module (Join-Path $PSScriptRoot 'Hosts/DrillHosts.psm1') -Force
        $given = if ($Hosts) { @($Hosts | ConvertTo-DrillHost) } else { @(Read-DrillHostsFile $HostsFile) }
        @(@{ Mode = (@($given | Where-Object IsLocal).Count -eq $given.Count ? 'Local' : 'Remote'); Given = $given })
    } else {
        @(@{ Mode = 'Local'; Given = $null }, @{ Mode = 'Netns'; Given = $null })
    }
    # RAFTPS_DRILL_MODES=Local (or Netns) runs one mode only, e.g. while working on a drill.
    if ($env:RAFTPS_DRILL_MODES) { $modes = @($modes | Where-Object { $_.Mode -in ($env:RAFTPS_DRILL_MODES -split ',') }) }
}

Describe 'Failure drills on <Mode> hosts' -Tag Drill -ForEach $modes {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot 'Hosts/DrillHosts.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot 'Drills/DrillLab.psm1') -Force
        $modulePath = $env:RAFTPS_MODULE ?? (Join-Path $PSScriptRoot '../../module/RaftPS')
        Import-Module (Join-Path $modulePath 'RaftPS.psd1') -Force -ErrorAction Stop

        $skip = $null
        $netns = $null
        $lab = $null
        try {
            $drillHosts = switch ($Mode) {
                { $Given } { $Given; break }
                'Local' { Get-DrillDefaultHost }
                'Netns' {
                    $skip = Get-DrillNetnsUnsupportedReason
                    if (-not $skip) {
                        $netns = New-DrillNetnsHost
                        $netns.Hosts
                    }
                }
            }
            if (-not $skip) {
                $lab = New-DrillLab -Hosts $drillHosts -ModulePath $modulePath
                New-DrillCluster $lab -Count 3
            }
        } catch {
            # AfterAll runs too, but release what exists now so a half-made lab never outlives this block.
            if ($lab) { Remove-DrillLab $lab; $lab = $null }
            if ($netns) { Remove-DrillNetnsHost $netns.StateDir; $netns = $null }
            throw
        }

        function Assert-NothingLost($outcome) {
            $outcome.Result.Acknowledged | Should -BeGreaterThan 50 -Because 'the drill must have exercised the cluster'
            $outcome.Result.LedgerWrites | Should -BeGreaterThan 10
            $outcome.Result.LostWrites | Should -BeNullOrEmpty -Because 'no acknowledged write may be lost'
            $outcome.Result.Unverified | Should -BeNullOrEmpty -Because 'every acknowledged write must be readable at the end'
            $outcome.Result.Verified | Should -Be $outcome.Result.LedgerWrites
            $outcome.Verdict.TimedOut | Should -BeFalse -Because 'the checker must reach a verdict'
            $outcome.Verdict.IsLinearizable | Should -BeTrue -Because "$($outcome.Verdict.Explanation) (history: $($outcome.HistoryPath))"
            $outcome.Drifted | Should -BeNullOrEmpty -Because "every running replica must hash the same state ($(($outcome.Drifted | ForEach-Object { "$($_.Id) $($_.State) $($_.Detail)" }) -join '; '))"
        }

        function Skip-IfUnsupported {
            if ($skip) { Set-ItResult -Skipped -Because $skip; return $true }
            Reset-DrillCluster $lab
            $false
        }
    }

    AfterAll {
        if ($lab) { Remove-DrillLab $lab }
        if ($netns) { Remove-DrillNetnsHost $netns.StateDir }
    }

    It 'keeps every acknowledged write when the leader is killed with kill -9 under write load' {
        if (Skip-IfUnsupported) { return }
        $w = Start-DrillWorkload $lab
        Wait-RaftWorkload $w -Writes 60 -TimeoutSeconds 30 -ErrorAction Stop

        $leader = Get-DrillLeader $lab
        Stop-DrillNode $lab -Id $leader
        $next = Get-DrillLeader $lab -ExcludeId $leader
        $next | Should -Not -Be $leader
        Wait-RaftWorkload $w -Writes 60 -TimeoutSeconds 30 -ErrorAction Stop   # two of three keep serving

        Start-DrillNode $lab -Id $leader
        Wait-RaftWorkload $w -Writes 30 -TimeoutSeconds 30 -ErrorAction Stop
        Wait-DrillCaughtUp $lab
        Assert-NothingLost (Complete-DrillWorkload $lab $w -Name kill-leader)
    }

    It 'keeps serving while a follower is partitioned, and the follower catches up after healing' {
        if (Skip-IfUnsupported) { return }
        $w = Start-DrillWorkload $lab
        Wait-RaftWorkload $w -Writes 40 -TimeoutSeconds 30 -ErrorAction Stop

        $leader = Get-DrillLeader $lab
        $follower = @($lab.Nodes.Values | Where-Object { $_.Running -and $_.Id -ne $leader })[0].Id
        $before = (Get-RaftNode -Connection $lab.Connection -Id $follower -ErrorAction Stop).AppliedIndex
        Disconnect-DrillNode $lab -Id $follower
        Wait-RaftWorkload $w -Writes 80 -TimeoutSeconds 30 -ErrorAction Stop   # the majority commits without it
        $commit = (Get-RaftNode -Connection $lab.Connection -Id (Get-DrillLeader $lab) -ErrorAction Stop).CommitIndex
        $cut = Get-RaftNode -Connection $lab.Connection -Id $follower -ErrorAction SilentlyContinue
        # Cut off by a link, it does not even answer; cut off by fault injection, it answers but has fallen behind.
        ($cut.Role -eq 'Unreachable' -or $cut.AppliedIndex -lt $commit) | Should -BeTrue -Because "the partitioned follower must not see new commits ($($cut.Role), applied $($cut.AppliedIndex), leader commit $commit)"

        Connect-DrillNode $lab -Id $follower
        Wait-RaftWorkload $w -Writes 30 -TimeoutSeconds 30 -ErrorAction Stop
        Wait-DrillCaughtUp $lab
        (Get-RaftNode -Connection $lab.Connection -Id $follower -ErrorAction Stop).AppliedIndex | Should -BeGreaterThan $before
        Assert-NothingLost (Complete-DrillWorkload $lab $w -Name partition-follower)
    }

    It 'makes a suspended leader step down when it resumes, with one leader per term and no stale read' {
        if (Skip-IfUnsupported) { return }
        $w = Start-DrillWorkload $lab
        Wait-RaftWorkload $w -Writes 40 -TimeoutSeconds 30 -ErrorAction Stop

        $old = $lab.Nodes[(Get-DrillLeader $lab)]
        Suspend-DrillNode $lab -Id $old.Id              # SIGSTOP: a paused VM, requests stay queued in its socket
        $next = Get-DrillLeader $lab -ExcludeId $old.Id
        Wait-RaftWorkload $w -Writes 40 -TimeoutSeconds 30 -ErrorAction Stop
        $key = "$($w.KeyPrefix)after-suspend"
        Set-RaftValue -Connection $lab.Connection -Key $key -Value 'new' -Confirm:$false -ErrorAction Stop

        # A client that knows only the old leader: the moment it resumes, it must not answer from its stale state.
        $direct = Connect-RaftCluster -Endpoint $old.Endpoint -ClusterName $lab.ClusterName -TimeoutSeconds 10 -ErrorAction Stop
        try {
            Resume-DrillNode $lab -Id $old.Id
            $read = Get-RaftValue -Connection $direct -Key $key -ErrorAction Stop
            $read.Value | Should -Be 'new' -Because 'a resumed leader must confirm leadership before serving a read'
        } finally {
            Disconnect-RaftCluster -Connection $direct
        }

        # It steps down, and at no sample do two nodes claim leadership of the same term.
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        do {
            $states = @(Get-RaftNode -Connection $lab.Connection -ErrorAction SilentlyContinue)
            $leaders = @($states | Where-Object IsLeader)
            ($leaders | Group-Object Term | Where-Object Count -gt 1) | Should -BeNullOrEmpty -Because 'two leaders in one term is split brain'
            $oldState = $states | Where-Object Id -eq $old.Id
            if ($oldState -and -not $oldState.IsLeader -and $oldState.Role -ne 'Unreachable') { break }
            Start-Sleep -Milliseconds 200
        } while ([DateTime]::UtcNow -lt $deadline)
        $oldState.Role | Should -Not -Be 'Leader' -Because "the resumed old leader must step down (new leader: $next)"

        Wait-RaftWorkload $w -Writes 30 -TimeoutSeconds 30 -ErrorAction Stop
        Wait-DrillCaughtUp $lab
        Assert-NothingLost (Complete-DrillWorkload $lab $w -Name suspend-leader)
    }

    It 'grows from 3 to 5 members and shrinks back to 3 under write load' {
        if (Skip-IfUnsupported) { return }
        $start = Get-Command Start-RaftNode
        if (-not (Get-Command Add-RaftMember -ErrorAction Ignore) -or -not (Get-Command Remove-RaftMember -ErrorAction Ignore) -or
            -not $start.Parameters.ContainsKey('Join')) {
            Set-ItResult -Skipped -Because 'the module has no live membership cmdlets yet (Add-RaftMember, Remove-RaftMember, Start-RaftNode -Join): issue 10'
            return
        }
        $w = Start-DrillWorkload $lab
        Wait-RaftWorkload $w -Writes 40 -TimeoutSeconds 30 -ErrorAction Stop

        $joiners = foreach ($n in 4, 5) { (Add-DrillNodeRecord $lab -Id "n$n" -HostIndex ($n - 4)).Id }
        try {
            foreach ($id in $joiners) {
                Start-DrillNode $lab -Id $id -Join
                Add-RaftMember -Connection $lab.Connection -Id $id -Endpoint $lab.Nodes[$id].Endpoint -Confirm:$false -ErrorAction Stop
                Wait-RaftWorkload $w -Writes 20 -TimeoutSeconds 30 -ErrorAction Stop
            }
            @(Get-RaftMember -Connection $lab.Connection -ErrorAction Stop).Count | Should -Be 5
            Wait-DrillCaughtUp $lab

            foreach ($id in $joiners) {
                Remove-RaftMember -Connection $lab.Connection -Id $id -Confirm:$false -ErrorAction Stop
                Wait-RaftWorkload $w -Writes 20 -TimeoutSeconds 30 -ErrorAction Stop
            }
            @(Get-RaftMember -Connection $lab.Connection -ErrorAction Stop | ForEach-Object Id) | Sort-Object | Should -Be @('n1', 'n2', 'n3')
        } finally {
            Stop-DrillNode $lab -Id $joiners
            foreach ($id in $joiners) { $lab.Nodes[$id].Pid = 0 }   # removed members: not restarted by later drills
        }
        Wait-RaftWorkload $w -Writes 30 -TimeoutSeconds 30 -ErrorAction Stop
        Assert-NothingLost (Complete-DrillWorkload $lab $w -Name grow-shrink)
    }

    It 'recovers every acknowledged write after every node is killed and restarted' {
        if (Skip-IfUnsupported) { return }
        $w = Start-DrillWorkload $lab
        Wait-RaftWorkload $w -Writes 100 -TimeoutSeconds 30 -ErrorAction Stop

        $all = @($lab.Nodes.Values | Where-Object Running | ForEach-Object Id)
        Stop-DrillNode $lab -Id $all
        Start-DrillNode $lab -Id $all                      # in parallel, each from its own data directory
        $null = Get-DrillLeader $lab -TimeoutSeconds 60
        Wait-RaftWorkload $w -Writes 40 -TimeoutSeconds 45 -ErrorAction Stop
        Wait-DrillCaughtUp $lab
        Assert-NothingLost (Complete-DrillWorkload $lab $w -Name restart-all)
    }
}
