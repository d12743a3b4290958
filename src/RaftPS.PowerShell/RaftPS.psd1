@{
    RootModule             = 'RaftPS.dll'
    ModuleVersion          = '0.1.0'
    GUID                   = '5f0c2b0e-7d4a-4c61-9a37-2e8d3f6b1a94'
    Author                 = 'RaftPS contributors'
    CompanyName            = 'RaftPS'
    Copyright              = '(c) RaftPS contributors. MIT License.'
    Description            = 'Run and drive RaftPS, a Raft-replicated key-value store: start nodes, read and write keys through the pipeline, change membership and run failure drills.'
    PowerShellVersion      = '7.6'
    CompatiblePSEditions   = @('Core')
    FormatsToProcess       = @('RaftPS.Format.ps1xml')
    CmdletsToExport        = @(
        'Start-RaftNode', 'Stop-RaftNode', 'Get-RaftNode', 'Wait-RaftLeader', 'New-RaftCluster',
        'Connect-RaftCluster', 'Disconnect-RaftCluster', 'New-RaftKey',
        'Set-RaftValue', 'Get-RaftValue', 'Remove-RaftValue',
        'Get-RaftMember', 'Add-RaftMember', 'Remove-RaftMember', 'Move-RaftLeader',
        'Set-RaftFault', 'Clear-RaftFault', 'Get-RaftFault', 'Save-RaftSnapshot', 'Test-RaftReplica',
        'New-RaftHistory', 'Add-RaftHistoryOperation', 'Import-RaftHistory', 'Export-RaftHistory', 'Test-RaftHistory',
        'Start-RaftWorkload', 'Wait-RaftWorkload', 'Stop-RaftWorkload'
    )
    FunctionsToExport      = @()
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags       = @('Raft', 'Consensus', 'KeyValue', 'Distributed', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}
