# A drill lab: a RaftPS cluster on drill hosts (this machine, stand-in namespaces or real hosts over SSH), with the
# faults a drill needs — kill -9, SIGSTOP/SIGCONT, partitions — applied the same way in every mode, and every
# resource it creates recorded so Remove-DrillLab can release all of it (nodes stopped by pid, sessions closed,
# directories deleted), also after a failure.
#
# Nodes always run through the RaftPS module: locally Start-RaftNode -Background in this process; on a remote host
# Start-RaftNode -Background inside that host's PowerShell session (the module is copied there with
# Copy-Item -ToSession). Node i of a cluster runs on host ((i - 1) mod hosts).

Set-StrictMode -Version 3.0

$script:SshOptions = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; BatchMode = 'yes'; LogLevel = 'ERROR' }

function New-DrillLab {
    <#
    .SYNOPSIS
        Prepares the hosts: a local work directory, and for remote hosts one SSH session each with the module copied
        and imported. Returns the lab object that every other function here takes.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [object[]] $Hosts,
        [Parameter(Mandatory)] [string] $ModulePath
    )
    $id = [Guid]::NewGuid().ToString('n').Substring(0, 8)
    $remote = @($Hosts | Where-Object { -not $_.IsLocal }).Count -gt 0
    if ($remote -and @($Hosts | Where-Object IsLocal).Count -gt 0) {
        throw [ArgumentException]::new('mix of loopback and remote hosts: use either this machine or remote hosts')
    }
    $work = Join-Path ([IO.Path]::GetTempPath()) "raftps-drill-$id"
    New-Item -ItemType Directory -Path $work | Out-Null
    $lab = [pscustomobject]@{
        PSTypeName  = 'RaftPS.DrillLab'
        Id          = $id
        ClusterName = "drill-$id"
        Hosts       = @($Hosts)
        Remote      = $remote
        ModulePath  = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
        WorkDir     = $work
        RemoteDir   = "/tmp/raftps-drill-$id"
        Sessions    = @{}                        # host address -> PSSession
        Nodes       = [ordered]@{}               # node id -> node record (see New-DrillNodeRecord)
        DownLinks   = [System.Collections.Generic.HashSet[string]]::new()
        Workloads   = [System.Collections.Generic.List[object]]::new()
        ClusterFile = Join-Path $work 'cluster.json'
        Connection  = $null
    }
    if ($remote) {
        try {
            Open-DrillSession $lab
        } catch {
            Remove-DrillLab $lab
            throw
        }
    }
    $lab
}

function Open-DrillSession($lab) {
    # One session per host, opened in parallel; sessions come back in completion order, so match them by name.
    $connections = foreach ($h in $lab.Hosts) {
        $c = @{ HostName = $h.Address; UserName = $h.User; Port = $h.Port; Options = $script:SshOptions; ConnectingTimeout = 30000 }
        if ($h.KeyFile) { $c.KeyFilePath = $h.KeyFile }
        $c
    }
    $sessions = @(New-PSSession -SSHConnection $connections -ErrorAction Stop)
    foreach ($s in $sessions) { $lab.Sessions[$s.ComputerName] = $s }
    foreach ($h in $lab.Hosts) {
        $s = $lab.Sessions[$h.Address]
        if (-not $s) { throw "no PowerShell session to $($h.Address)" }
        Invoke-Command -Session $s -ScriptBlock { param($dir) New-Item -ItemType Directory -Force -Path $dir | Out-Null } -ArgumentList $lab.RemoteDir
        Copy-Item -ToSession $s -Path $lab.ModulePath -Destination "$($lab.RemoteDir)/RaftPS" -Recurse -Force
        Invoke-Command -Session $s -ScriptBlock { param($m) Import-Module $m -ErrorAction Stop } -ArgumentList "$($lab.RemoteDir)/RaftPS/RaftPS.psd1"
    }
}

function Get-DrillSession($lab, [string] $Address) {
    $s = $lab.Sessions[$Address]
    if (-not $s -or $s.State -ne 'Opened') { throw "the PowerShell session to $Address is not open ($($s.State))" }
    $s
}

function Get-DrillFreePort {
    <# .SYNOPSIS Free UDP ports on a host's address (asked on that host). #>
    param($lab, $DrillHost, [int] $Count)
    $probe = {
        param([string] $address, [int] $count)
        $sockets = @(1..$count | ForEach-Object { [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([Net.IPAddress]::Parse($address), 0)) })
        try { $sockets | ForEach-Object { $_.Client.LocalEndPoint.Port } } finally { $sockets | ForEach-Object Dispose }
    }
    if ($lab.Remote) { Invoke-Command -Session (Get-DrillSession $lab $DrillHost.Address) -ScriptBlock $probe -ArgumentList $DrillHost.Address, $Count }
    else { & $probe $DrillHost.Address $Count }
}

function New-DrillNodeRecord($lab, [string] $Id, $DrillHost, [int] $Port) {
    $dir = if ($lab.Remote) { $lab.RemoteDir } else { $lab.WorkDir }
    [pscustomobject]@{
        Id        = $Id
        Host      = $DrillHost
        Address   = $DrillHost.Address
        Port      = $Port
        Endpoint  = "$($DrillHost.Address):$Port"
        DataPath  = "$dir/data/$Id"
        LogPath   = "$dir/logs/$Id.log"
        Pid       = 0
        StartTime = [datetime]::MinValue
        Process   = $null        # the RaftPS.NodeProcess (local nodes)
        Running   = $false
        Suspended = $false
        Partitioned = $false
    }
}

function New-DrillCluster {
    <#
    .SYNOPSIS
        Writes a cluster file for -Count nodes spread over the lab's hosts, ships it to remote hosts, starts every
        node and connects to the cluster (the session's default connection and $lab.Connection).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $lab, [int] $Count = 3)
    $ports = @{}
    for ($i = 0; $i -lt $lab.Hosts.Count; $i++) {
        $onHost = [Math]::Ceiling(($Count - $i) / $lab.Hosts.Count)
        if ($onHost -gt 0) { $ports[$i] = [System.Collections.Generic.Queue[int]]::new([int[]] @(Get-DrillFreePort $lab $lab.Hosts[$i] $onHost)) }
    }
    $members = for ($n = 1; $n -le $Count; $n++) {
        $hostIndex = ($n - 1) % $lab.Hosts.Count
        $record = New-DrillNodeRecord $lab "n$n" $lab.Hosts[$hostIndex] $ports[$hostIndex].Dequeue()
        $lab.Nodes[$record.Id] = $record
        [ordered]@{ id = $record.Id; host = $record.Address; port = $record.Port }
    }
    [ordered]@{ cluster = $lab.ClusterName; members = @($members) } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $lab.ClusterFile
    if ($lab.Remote) {
        foreach ($s in $lab.Sessions.Values) { Copy-Item -ToSession $s -Path $lab.ClusterFile -Destination "$($lab.RemoteDir)/cluster.json" -Force }
    }
    Start-DrillNode $lab -Id @($lab.Nodes.Keys)
    $lab.Connection = Connect-RaftCluster -ClusterFile $lab.ClusterFile -ErrorAction Stop
    $null = Wait-RaftLeader -Connection $lab.Connection -TimeoutSeconds 60 -ErrorAction Stop
}

function Add-DrillNodeRecord {
    <# .SYNOPSIS Reserves an id, host and port for a node that will join later (not started, not in the cluster file). #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string] $Id, [int] $HostIndex = 0)
    $h = $lab.Hosts[$HostIndex % $lab.Hosts.Count]
    $record = New-DrillNodeRecord $lab $Id $h ([int] (Get-DrillFreePort $lab $h 1))
    $lab.Nodes[$Id] = $record
    $record
}

function Start-DrillNode {
    <#
    .SYNOPSIS
        Starts nodes (in parallel) with Start-RaftNode -Background -AllowFaultInjection, on their hosts, from their
        data directories; with -Join as new members that join through the current members. Records their pids.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string[]] $Id, [switch] $Join)
    $clusterFile = if ($lab.Remote) { "$($lab.RemoteDir)/cluster.json" } else { $lab.ClusterFile }
    $joinList = @($lab.Nodes.Values | Where-Object { $_.Running -and $_.Id -notin $Id } | ForEach-Object Endpoint)
    $start = {
        param([string] $modulePath, [hashtable] $arguments)
        Import-Module $modulePath -ErrorAction Stop
        foreach ($dir in (Split-Path $arguments.DataPath), (Split-Path $arguments.LogPath)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
        $node = Start-RaftNode @arguments -Background -AllowFaultInjection -TimeoutSeconds 90 -Confirm:$false -ErrorAction Stop
        [pscustomobject]@{ Node = $node; Pid = $node.Pid; StartTime = $node.StartTime }
    }
    $jobs = foreach ($nodeId in $Id) {
        $n = $lab.Nodes[$nodeId]
        $arguments = @{ Id = $n.Id; ClusterFile = $clusterFile; DataPath = $n.DataPath; LogPath = $n.LogPath }
        # Since the security work a node refuses a non-loopback address without a peer key. The stand-in hosts are a
        # private subnet only this run uses; pass -Insecure once Start-RaftNode offers it (the module must add it,
        # or -PeerKeyFile, for remote drills to start nodes at all).
        if (-not $n.Host.IsLocal -and (Get-Command Start-RaftNode).Parameters.ContainsKey('Insecure')) { $arguments.Insecure = $true }
        if ($Join) {
            # A new member: no cluster file (it is not in it); it contacts the running members and waits to be added.
            $arguments.Remove('ClusterFile')
            $arguments.Join = $joinList
            $arguments.Listen = $n.Endpoint
            $arguments.ClusterName = $lab.ClusterName
        }
        if ($lab.Remote) {
            Invoke-Command -Session (Get-DrillSession $lab $n.Address) -ScriptBlock $start -ArgumentList "$($lab.RemoteDir)/RaftPS/RaftPS.psd1", $arguments -AsJob
        } else {
            Start-ThreadJob -ScriptBlock $start -ArgumentList (Join-Path $lab.ModulePath 'RaftPS.psd1'), $arguments
        }
    }
    $failures = @()
    for ($i = 0; $i -lt $Id.Count; $i++) {
        $n = $lab.Nodes[$Id[$i]]
        try {
            $started = Receive-Job -Job $jobs[$i] -Wait -AutoRemoveJob -ErrorAction Stop
            $n.Pid = [int] $started.Pid
            $n.StartTime = [datetime] $started.StartTime
            $n.Process = if ($lab.Remote) { $null } else { $started.Node }
            $n.Running = $true
            $n.Suspended = $false
        } catch {
            $failures += "$($n.Id) on $($n.Address): $_"
        }
    }
    if ($failures) { throw "could not start node(s): $($failures -join '; ')" }
}

function Invoke-DrillSignal {
    # Sends a signal to a node's process on its host; checks the start time so a reused pid is never signalled.
    param($lab, $n, [ValidateSet('KILL', 'STOP', 'CONT')] [string] $Signal)
    $send = {
        param([int] $nodePid, [datetime] $startTime, [string] $signal)
        $p = Get-Process -Id $nodePid -ErrorAction Ignore
        if (-not $p -or [Math]::Abs(($p.StartTime - $startTime).TotalSeconds) -gt 2) { return $false }
        & kill "-$signal" $nodePid
        if ($signal -eq 'KILL') { $null = $p.WaitForExit(10000) }
        $true
    }
    if ($lab.Remote) { Invoke-Command -Session (Get-DrillSession $lab $n.Address) -ScriptBlock $send -ArgumentList $n.Pid, $n.StartTime, $Signal }
    else { & $send $n.Pid $n.StartTime $Signal }
}

function Stop-DrillNode {
    <# .SYNOPSIS kill -9 nodes (local nodes through Stop-RaftNode -Force, remote ones by pid on their host). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string[]] $Id)
    foreach ($nodeId in $Id) {
        $n = $lab.Nodes[$nodeId]
        if (-not $n.Running) { continue }
        if ($n.Suspended) { $null = Invoke-DrillSignal $lab $n CONT }   # a stopped process still dies from SIGKILL; keep state simple
        if ($n.Process) { $n.Process | Stop-RaftNode -Force -Confirm:$false -ErrorAction Stop }
        else { $null = Invoke-DrillSignal $lab $n KILL }
        $n.Running = $false
        $n.Suspended = $false
    }
}

function Suspend-DrillNode {
    <# .SYNOPSIS SIGSTOP: the process freezes like a paused VM, with its sockets and queued requests intact. #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string] $Id)
    $n = $lab.Nodes[$Id]
    if (-not (Invoke-DrillSignal $lab $n STOP)) { throw "node $Id (pid $($n.Pid)) is not running" }
    $n.Suspended = $true
}

function Resume-DrillNode {
    <# .SYNOPSIS SIGCONT. #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string] $Id)
    $n = $lab.Nodes[$Id]
    $null = Invoke-DrillSignal $lab $n CONT
    $n.Suspended = $false
}

function Disconnect-DrillNode {
    <#
    .SYNOPSIS
        Partitions a node from its peers: on a stand-in host that holds only this node, by taking the host's link
        down (ip link set <veth> down); otherwise with the node's fault injection (Set-RaftFault -Partition).
    #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string] $Id)
    $n = $lab.Nodes[$Id]
    $sharing = @($lab.Nodes.Values | Where-Object { $_.Running -and $_.Address -eq $n.Address }).Count
    if ($n.Host.Link -and $sharing -eq 1) {
        Set-DrillHostLink $n.Host down
        $null = $lab.DownLinks.Add($n.Host.Link)
    } else {
        $peers = @($lab.Nodes.Values | Where-Object { $_.Id -ne $Id } | ForEach-Object Id)
        Set-RaftFault -Connection $lab.Connection -Id $Id -Partition $peers -Confirm:$false -ErrorAction Stop
    }
    $n.Partitioned = $true
}

function Connect-DrillNode {
    <# .SYNOPSIS Heals what Disconnect-DrillNode did. #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] [string] $Id)
    $n = $lab.Nodes[$Id]
    if ($n.Host.Link -and $lab.DownLinks.Contains($n.Host.Link)) {
        Set-DrillHostLink $n.Host up
        $null = $lab.DownLinks.Remove($n.Host.Link)
    } else {
        Clear-RaftFault -Connection $lab.Connection -Id $Id -Confirm:$false -ErrorAction Stop
    }
    $n.Partitioned = $false
}

function Get-DrillLeader {
    <# .SYNOPSIS The current leader's id (waits up to -TimeoutSeconds for one other than -ExcludeId). #>
    param([Parameter(Mandatory)] $lab, [string[]] $ExcludeId = @(), [int] $TimeoutSeconds = 45)
    $arguments = @{ Connection = $lab.Connection; TimeoutSeconds = $TimeoutSeconds; ErrorAction = 'Stop' }
    if ($ExcludeId) { $arguments.ExcludeId = $ExcludeId }
    (Wait-RaftLeader @arguments).Id
}

function Wait-DrillCaughtUp {
    <# .SYNOPSIS Waits until every running node has applied what the leader had committed when the wait began. #>
    param([Parameter(Mandatory)] $lab, [int] $TimeoutSeconds = 45)
    $leader = Get-DrillLeader $lab
    $target = (Get-RaftNode -Connection $lab.Connection -Id $leader -ErrorAction Stop).CommitIndex
    $ids = @($lab.Nodes.Values | Where-Object Running | ForEach-Object Id)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    do {
        $states = @(Get-RaftNode -Connection $lab.Connection -Id $ids -ErrorAction SilentlyContinue)
        $behind = @($ids | Where-Object { $id = $_; -not ($states | Where-Object { $_.Id -eq $id -and $_.AppliedIndex -ge $target }) })
        if (-not $behind) { return }
        Start-Sleep -Milliseconds 200
    } while ([DateTime]::UtcNow -lt $deadline)
    throw "node(s) $($behind -join ', ') did not apply up to $target within $TimeoutSeconds s: $(($states | ForEach-Object { "$($_.Id) $($_.Role) applied $($_.AppliedIndex)" }) -join '; ')"
}

function Reset-DrillCluster {
    <#
    .SYNOPSIS
        Brings the lab back to healthy before a drill: resumes suspended nodes, heals partitions, restarts nodes that
        are down, and waits for a leader.
    #>
    param([Parameter(Mandatory)] $lab)
    foreach ($n in @($lab.Nodes.Values)) {
        if ($n.Suspended) { Resume-DrillNode $lab $n.Id }
        if ($n.Partitioned) { Connect-DrillNode $lab $n.Id }
    }
    $members = @(Get-RaftMember -Connection $lab.Connection -ErrorAction SilentlyContinue | ForEach-Object Id)
    $down = @($lab.Nodes.Values | Where-Object { -not $_.Running -and (-not $members -or $_.Id -in $members) -and $_.Pid -ne 0 } | ForEach-Object Id)
    if ($down) { Start-DrillNode $lab -Id $down }
    $null = Get-DrillLeader $lab
}

function Start-DrillWorkload {
    <# .SYNOPSIS A bounded write/read load on the lab's cluster (3 clients, 5 ms pause), recorded into a new history. #>
    param([Parameter(Mandatory)] $lab, [int] $Clients = 3)
    $w = Start-RaftWorkload -Connection $lab.Connection -Clients $Clients -PauseMilliseconds 5 -OperationTimeoutSeconds 2 -Confirm:$false -ErrorAction Stop
    $lab.Workloads.Add($w)
    $w
}

function Complete-DrillWorkload {
    <#
    .SYNOPSIS
        Stops a workload (reading every key back) and checks its history; a history that fails is saved under
        $env:RAFTPS_DRILL_ARTIFACTS (or the temp folder) for Test-RaftHistory -Path. Returns Result, Verdict, HistoryPath, Replicas (Test-RaftReplica) and Drifted (running members that do not agree).
    #>
    param([Parameter(Mandatory)] $lab, [Parameter(Mandatory)] $Workload, [string] $Name = 'drill')
    $result = Stop-RaftWorkload $Workload -Confirm:$false -ErrorAction Stop
    $verdict = Test-RaftHistory $Workload.History -TimeoutSeconds 120 -ErrorAction Stop
    $path = $null
    if (-not $verdict.IsLinearizable -or $verdict.TimedOut -or $result.LostWrites.Count -gt 0) {
        $dir = $env:RAFTPS_DRILL_ARTIFACTS ?? [IO.Path]::GetTempPath()
        $path = Join-Path $dir "raftps-$($lab.ClusterName)-$Name-history.json"
        Export-RaftHistory -History $Workload.History -Path $path -Confirm:$false
        Write-Host "history of the failed drill saved to $path"
    }
    # Replicas cannot drift: every running member hashes the same state at one checkpoint.
    $running = @($lab.Nodes.Values | Where-Object Running | ForEach-Object Id)
    $replicas = @(Test-RaftReplica -Connection $lab.Connection -TimeoutSeconds 45 -ErrorAction SilentlyContinue -ErrorVariable replicaErrors)
    if ($replicaErrors -and -not $replicas) { throw "Test-RaftReplica failed: $($replicaErrors[0])" }
    $drifted = @($replicas | Where-Object { $_.State -eq 'Differs' -or ($_.Id -in $running -and -not $_.Agrees) })
    Write-Host ("{0}: replicas at checkpoint {1}: {2}" -f $Name, $replicas[0].CheckpointIndex, (($replicas | ForEach-Object { "$($_.Id) $($_.State)" }) -join ', '))
    Write-Host ("{0}: {1} ops ({2} acknowledged writes, {3} unknown, {4} reads), {5} ledger keys read back; {6}" -f
        $Name, $result.Operations, $result.Acknowledged, $result.Unknown, $result.Reads, $result.Verified, $verdict.Explanation)
    [pscustomobject]@{ Result = $result; Verdict = $verdict; HistoryPath = $path; Replicas = $replicas; Drifted = $drifted }
}

function Remove-DrillLab {
    <#
    .SYNOPSIS
        Releases everything the lab holds: workloads stopped, links up, every node process killed by pid (resumed
        first), the connection closed, remote directories removed, sessions closed, the work directory deleted.
        Never throws: each step is attempted and problems are written as warnings.
    #>
    param([Parameter(Mandatory)] $lab)
    foreach ($w in $lab.Workloads) {
        try { $null = Stop-RaftWorkload $w -SkipReadBack -Confirm:$false -ErrorAction Stop } catch { Write-Warning "stopping a workload: $_" }
    }
    foreach ($link in @($lab.DownLinks)) {
        try { $null = & ip link set $link up 2>&1 } catch { Write-Warning "ip link set $link up: $_" }
    }
    foreach ($n in @($lab.Nodes.Values | Where-Object { $_.Pid -ne 0 })) {
        try {
            if ($n.Suspended) { $null = Invoke-DrillSignal $lab $n CONT }
            $null = Invoke-DrillSignal $lab $n KILL
            $n.Running = $false
        } catch { Write-Warning "killing node $($n.Id) (pid $($n.Pid) on $($n.Address)): $_" }
    }
    if ($lab.Connection) { try { Disconnect-RaftCluster -Connection $lab.Connection -ErrorAction Stop } catch { Write-Warning "disconnect: $_" } }
    foreach ($s in @($lab.Sessions.Values)) {
        try {
            if ($s.State -eq 'Opened') {
                Invoke-Command -Session $s -ScriptBlock { param($dir) Remove-Item -Recurse -Force -LiteralPath $dir -ErrorAction SilentlyContinue } -ArgumentList $lab.RemoteDir
            }
            Remove-PSSession -Session $s
        } catch { Write-Warning "closing the session to $($s.ComputerName): $_" }
    }
    $lab.Sessions.Clear()
    Remove-Item -Recurse -Force -LiteralPath $lab.WorkDir -ErrorAction SilentlyContinue
}

Export-ModuleMember -Function New-DrillLab, New-DrillCluster, Add-DrillNodeRecord, Start-DrillNode, Stop-DrillNode, Suspend-DrillNode,
    Resume-DrillNode, Disconnect-DrillNode, Connect-DrillNode, Get-DrillLeader, Wait-DrillCaughtUp, Reset-DrillCluster,
    Start-DrillWorkload, Complete-DrillWorkload, Remove-DrillLab, Get-DrillFreePort
