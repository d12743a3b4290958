# Hosts for the RaftPS failure drills: the hosts file format, the default local hosts, and stand-in remote hosts made
# of network namespaces with one sshd each (netns-up.sh / netns-down.sh).
#
# A host is an object with Address (required), User, KeyFile, Port (SSH, default 22) and, for stand-in hosts, Link:
# the host-side network interface whose "ip link set down" cuts the host off (partitions). Hosts on loopback
# (127.0.0.0/8) are this machine: nodes start locally, no SSH. Any other address is reached with PowerShell
# remoting over SSH (New-PSSession -HostName).
#
# A hosts file is JSON, an array of such objects:
#   [ { "Address": "10.0.0.11", "User": "root", "KeyFile": "~/.ssh/drill_ed25519", "Port": 22 },
#     { "Address": "vdi-2.example.net", "User": "ops", "KeyFile": "~/.ssh/drill_ed25519" }, ... ]

Set-StrictMode -Version 3.0

function ConvertTo-DrillHost {
    <#
    .SYNOPSIS
        Normalizes host descriptions (objects, hashtables or "user@address:port" strings) into drill host objects.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param([Parameter(Mandatory, ValueFromPipeline)] [object[]] $InputObject)
    process {
        foreach ($h in $InputObject) {
            if ($h -is [string]) {
                if ($h -notmatch '^(?:(?<user>[^@]+)@)?(?<addr>[^:@]+)(?::(?<port>\d+))?$') {
                    throw [ArgumentException]::new("'$h' is not a host: use ADDRESS, USER@ADDRESS or USER@ADDRESS:PORT")
                }
                $h = @{ Address = $Matches.addr; User = $Matches['user']; Port = $Matches['port'] }
            }
            $get = { param($name) if ($h -is [System.Collections.IDictionary]) { $h[$name] } elseif ($h.PSObject.Properties[$name]) { $h.$name } }
            $address = & $get 'Address'
            if (-not $address) { throw [ArgumentException]::new("a host has no Address: $($h | ConvertTo-Json -Compress)") }
            $port = & $get 'Port'
            $keyFile = & $get 'KeyFile'
            [pscustomobject]@{
                PSTypeName = 'RaftPS.DrillHost'
                Address    = [string] $address
                User       = [string] ((& $get 'User') ?? [Environment]::UserName)
                KeyFile    = if ($keyFile) { [string] $keyFile.Replace('~', $HOME) } else { $null }
                Port       = if ($port) { [int] $port } else { 22 }
                Link       = [string] (& $get 'Link')
                IsLocal    = Test-DrillLoopback $address
            }
        }
    }
}

function Test-DrillLoopback([string] $Address) {
    $ip = $null
    if ($Address -eq 'localhost') { return $true }
    [System.Net.IPAddress]::TryParse($Address, [ref] $ip) -and [System.Net.IPAddress]::IsLoopback($ip)
}

function Get-DrillDefaultHost {
    <# .SYNOPSIS The default hosts: this machine, as 127.0.0.1, 127.0.0.2 and 127.0.0.3. #>
    '127.0.0.1', '127.0.0.2', '127.0.0.3' | ConvertTo-DrillHost
}

function Read-DrillHostsFile {
    <# .SYNOPSIS Reads a hosts file (JSON array of hosts; see the top of this module). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { throw [IO.FileNotFoundException]::new("hosts file not found: $Path", $Path) }
    $parsed = Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json -NoEnumerate
    $hosts = @($parsed | ForEach-Object { $_ } | ConvertTo-DrillHost)
    if ($hosts.Count -lt 1) { throw [ArgumentException]::new("hosts file $Path lists no hosts") }
    $hosts
}

function Get-DrillPwshCommand {
    <# .SYNOPSIS The command line that runs this same pwsh (the apphost, or dotnet plus pwsh.dll for the local tool). #>
    $exe = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'pwsh') { return , @($exe) }
    , @($exe, (Join-Path $PSHOME 'pwsh.dll'))
}

function Get-DrillNetnsUnsupportedReason {
    <# .SYNOPSIS Why stand-in hosts cannot be made here ($null when they can): Linux, root, iproute2, ssh, sshd or apt-get. #>
    if (-not $IsLinux) { return 'stand-in hosts need Linux network namespaces (this is not Linux)' }
    if ((& id -u) -ne '0') { return 'stand-in hosts need root (ip netns, sshd); run the drills as root for remote mode' }
    foreach ($tool in 'ip', 'ssh', 'ssh-keygen') {
        if (-not (Get-Command $tool -CommandType Application -ErrorAction Ignore)) { return "stand-in hosts need '$tool' on PATH" }
    }
    if (-not (Test-Path /usr/sbin/sshd) -and -not (Get-Command apt-get -CommandType Application -ErrorAction Ignore)) {
        return 'stand-in hosts need sshd (/usr/sbin/sshd) or apt-get to install openssh-server'
    }
    $null
}

function New-DrillNetnsHost {
    <#
    .SYNOPSIS
        Creates three stand-in hosts (network namespaces + bridge + one sshd each, running this pwsh as the
        powershell subsystem) and returns @{ StateDir; Hosts }. Pass StateDir to Remove-DrillNetnsHost, also when a
        later step fails: it removes whatever was created.
    #>
    [CmdletBinding()]
    param([string] $StateRoot = [IO.Path]::GetTempPath())
    $state = Join-Path $StateRoot "raftps-netns-$([Guid]::NewGuid().ToString('n').Substring(0, 8))"
    $pwsh = Get-DrillPwshCommand
    $out = & (Join-Path $PSScriptRoot 'netns-up.sh') $state @pwsh 2>&1
    $result = [pscustomobject]@{ StateDir = $state; Hosts = @() }
    if ($LASTEXITCODE -ne 0) {
        Remove-DrillNetnsHost -StateDir $state
        throw "netns-up.sh failed (exit $LASTEXITCODE): $($out -join "`n")"
    }
    $result.Hosts = @(Read-DrillHostsFile (Join-Path $state 'hosts.json'))
    $result
}

function Remove-DrillNetnsHost {
    <# .SYNOPSIS Removes what New-DrillNetnsHost created (processes in the namespaces, namespaces, bridge, state). #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $StateDir)
    $out = & (Join-Path $PSScriptRoot 'netns-down.sh') $StateDir 2>&1
    if ($LASTEXITCODE -ne 0) { Write-Warning "netns-down.sh $StateDir exited $LASTEXITCODE`: $($out -join "`n")" }
}

function Set-DrillHostLink {
    <# .SYNOPSIS Takes a stand-in host's link down (cut off from every peer and client) or up again. #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [object] $DrillHost, [Parameter(Mandatory)] [ValidateSet('up', 'down')] [string] $State)
    if (-not $DrillHost.Link) { throw [InvalidOperationException]::new("host $($DrillHost.Address) has no Link to set $State") }
    $out = & ip link set $DrillHost.Link $State 2>&1
    if ($LASTEXITCODE -ne 0) { throw "ip link set $($DrillHost.Link) $State failed: $out" }
}

Export-ModuleMember -Function ConvertTo-DrillHost, Test-DrillLoopback, Get-DrillDefaultHost, Read-DrillHostsFile, Get-DrillPwshCommand,
    Get-DrillNetnsUnsupportedReason, New-DrillNetnsHost, Remove-DrillNetnsHost, Set-DrillHostLink
