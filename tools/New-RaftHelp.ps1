#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Writes en-US/RaftPS.dll-Help.xml (MAML) for the published RaftPS module from the cmdlets' XML doc comments.
.DESCRIPTION
    Reads each exported cmdlet's metadata (parameter sets, positions, pipeline input, output types) from Get-Command
    and its text from RaftPS.xml, the compiler's documentation file: the class <summary> is the synopsis, <remarks>
    paragraphs the description, each <example> (<code> then <para>) an example, and each parameter property's
    <summary> the parameter's text. Fails when a cmdlet lacks a synopsis, a description, two examples or text for a
    parameter, so missing help breaks the build rather than the user.
    Run it in its own pwsh (it imports the module it documents): dotnet pwsh -NoProfile -File tools/New-RaftHelp.ps1 -ModulePath module/RaftPS
.PARAMETER ModulePath
    The published module folder (holding RaftPS.psd1, RaftPS.dll and RaftPS.xml).
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/New-RaftHelp.ps1 -ModulePath ./module/RaftPS
#>
[CmdletBinding()]
param([Parameter(Mandatory)] [string] $ModulePath)
$ErrorActionPreference = 'Stop'
$ModulePath = (Resolve-Path -LiteralPath $ModulePath).ProviderPath
$docFile = Join-Path $ModulePath 'RaftPS.xml'
if (-not (Test-Path -LiteralPath $docFile)) { throw "no documentation file $docFile (GenerateDocumentationFile must be on)" }
[xml] $doc = Get-Content -LiteralPath $docFile -Raw
$members = @{}
foreach ($m in $doc.doc.members.member) { $members[$m.name] = $m }

$module = Import-Module (Join-Path $ModulePath 'RaftPS.psd1') -PassThru -Force
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
$builtin = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    Confirm = 'Prompts you for confirmation before running the cmdlet.'
}
$problems = [System.Collections.Generic.List[string]]::new()

function Get-Text([System.Xml.XmlNode] $node) {
    if ($null -eq $node) { return '' }
    (($node.InnerText -replace '\s+', ' ').Trim())
}

function Get-Paragraphs([System.Xml.XmlNode] $node) {
    if ($null -eq $node) { return @() }
    $paras = @($node.SelectNodes('para') | ForEach-Object { Get-Text $_ } | Where-Object { $_ })
    if ($paras.Count -eq 0 -and (Get-Text $node)) { $paras = @(Get-Text $node) }
    $paras
}

function Get-Code([System.Xml.XmlNode] $node) {
    # Doc comments indent continuation lines; strip the common indent so multi-line examples paste cleanly.
    $lines = $node.InnerText.Trim("`r", "`n") -split "`r?`n"
    $indent = ($lines | Select-Object -Skip 1 | Where-Object { $_.Trim() } | ForEach-Object { $_.Length - $_.TrimStart().Length } | Measure-Object -Minimum).Minimum
    if ($null -eq $indent) { $indent = 0 }
    $out = @($lines[0].Trim()) + @($lines | Select-Object -Skip 1 | ForEach-Object { if ($_.Length -ge $indent) { $_.Substring($indent) } else { $_.TrimStart() } })
    $out -join "`n"
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$outDir = Join-Path $ModulePath 'en-US'
$null = New-Item -ItemType Directory -Force -Path $outDir
$outFile = Join-Path $outDir 'RaftPS.dll-Help.xml'
$w = [System.Xml.XmlWriter]::Create($outFile, $settings)
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Write-Paras([string] $prefix, [string] $ns, [string] $name, [string[]] $paras) {
    $w.WriteStartElement($prefix, $name, $ns)
    foreach ($p in $paras) { $w.WriteElementString('maml', 'para', $maml, $p) }
    if (-not $paras) { $w.WriteElementString('maml', 'para', $maml, '') }
    $w.WriteEndElement()
}

function Get-PipelineInput($p) {
    $kinds = @()
    foreach ($attr in $p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] }) {
        if ($attr.ValueFromPipeline) { $kinds += 'ByValue' }
        if ($attr.ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    }
    $kinds = $kinds | Select-Object -Unique
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Write-Parameter($p, [string] $description, $setMeta) {
    $position = if ($setMeta -and $setMeta.Position -ge 0) { [string]$setMeta.Position } else { 'named' }
    $required = if ($setMeta) { ([string]$setMeta.IsMandatory).ToLowerInvariant() } else { 'false' }
    $globbing = ([string][bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })).ToLowerInvariant()
    $w.WriteStartElement('command', 'parameter', $command)
    $w.WriteAttributeString('required', $required)
    $w.WriteAttributeString('variableLength', 'true')
    $w.WriteAttributeString('globbing', $globbing)
    $w.WriteAttributeString('pipelineInput', (Get-PipelineInput $p))
    $w.WriteAttributeString('position', $position)
    $w.WriteAttributeString('aliases', $(if ($p.Aliases.Count) { $p.Aliases -join ', ' } else { 'none' }))
    $w.WriteElementString('maml', 'name', $maml, $p.Name)
    Write-Paras 'maml' $maml 'description' @($description)
    $valueType = [Nullable]::GetUnderlyingType($p.ParameterType) ?? $p.ParameterType
    if (-not $p.SwitchParameter) {
        $w.WriteStartElement('command', 'parameterValue', $command)
        $w.WriteAttributeString('required', 'true')
        $w.WriteAttributeString('variableLength', 'false')
        $w.WriteString($valueType.Name)
        $w.WriteEndElement()
    }
    $w.WriteStartElement('dev', 'type', $dev)
    $w.WriteElementString('maml', 'name', $maml, $valueType.FullName)
    $w.WriteEndElement()
    $w.WriteElementString('dev', 'defaultValue', $dev, 'None')
    $w.WriteEndElement()
}

$w.WriteStartDocument()
$w.WriteStartElement('helpItems', 'http://msh')
$w.WriteAttributeString('schema', 'maml')
$cmdlets = Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name
foreach ($cmd in $cmdlets) {
    $type = $cmd.ImplementingType
    $typeDoc = $members["T:$($type.FullName)"]
    $synopsis = Get-Text $typeDoc.SelectSingleNode("summary")
    $description = @(Get-Paragraphs $typeDoc.SelectSingleNode("remarks"))
    $examples = @($typeDoc.SelectNodes('example'))
    if (-not $synopsis) { $problems.Add("$($cmd.Name): no <summary>") }
    if (-not $description) { $problems.Add("$($cmd.Name): no <remarks>") }
    if ($examples.Count -lt 2) { $problems.Add("$($cmd.Name): $($examples.Count) examples, at least 2 needed") }

    $paramText = [ordered]@{}
    foreach ($p in $cmd.Parameters.Values | Where-Object { $common -notcontains $_.Name -or $builtin.ContainsKey($_.Name) }) {
        if ($builtin.ContainsKey($p.Name)) { $paramText[$p.Name] = $builtin[$p.Name]; continue }
        $prop = $type.GetProperty($p.Name)
        $text = if ($prop) { Get-Text $members["P:$($prop.DeclaringType.FullName).$($p.Name)"]?.SelectSingleNode("summary") } else { '' }
        if (-not $text) { $problems.Add("$($cmd.Name) -$($p.Name): no <summary>") }
        $paramText[$p.Name] = $text
    }

    $w.WriteStartElement('command', 'command', $command)
    $w.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $w.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $w.WriteStartElement('command', 'details', $command)
    $w.WriteElementString('command', 'name', $command, $cmd.Name)
    $w.WriteElementString('command', 'verb', $command, $cmd.Verb)
    $w.WriteElementString('command', 'noun', $command, $cmd.Noun)
    Write-Paras 'maml' $maml 'description' @($synopsis)
    $w.WriteEndElement()
    Write-Paras 'maml' $maml 'description' $description

    $w.WriteStartElement('command', 'syntax', $command)
    foreach ($set in $cmd.ParameterSets) {
        $w.WriteStartElement('command', 'syntaxItem', $command)
        $w.WriteElementString('maml', 'name', $maml, $cmd.Name)
        foreach ($sp in $set.Parameters | Where-Object { $paramText.Contains($_.Name) }) {
            Write-Parameter $cmd.Parameters[$sp.Name] $paramText[$sp.Name] $sp
        }
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'parameters', $command)
    foreach ($name in $paramText.Keys) {
        $p = $cmd.Parameters[$name]
        $meta = $cmd.ParameterSets | ForEach-Object { $_.Parameters | Where-Object Name -eq $name } | Select-Object -First 1
        Write-Parameter $p $paramText[$name] $meta
    }
    $w.WriteEndElement()

    $inputs = @($cmd.Parameters.Values | Where-Object { (Get-PipelineInput $_) -ne 'False' } | ForEach-Object { $_.ParameterType.FullName } | Select-Object -Unique)
    $w.WriteStartElement('command', 'inputTypes', $command)
    foreach ($t in $(if ($inputs) { $inputs } else { @('None') })) {
        $w.WriteStartElement('command', 'inputType', $command)
        $w.WriteStartElement('dev', 'type', $dev); $w.WriteElementString('maml', 'name', $maml, $t); $w.WriteEndElement()
        Write-Paras 'maml' $maml 'description' @()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $outputs = @($cmd.OutputType | ForEach-Object Name | Where-Object { $_ -and $_ -ne 'System.Void' } | Select-Object -Unique)
    $w.WriteStartElement('command', 'returnValues', $command)
    foreach ($t in $(if ($outputs) { $outputs } else { @('None') })) {
        $w.WriteStartElement('command', 'returnValue', $command)
        $w.WriteStartElement('dev', 'type', $dev); $w.WriteElementString('maml', 'name', $maml, $t); $w.WriteEndElement()
        Write-Paras 'maml' $maml 'description' @()
        $w.WriteEndElement()
    }
    $w.WriteEndElement()

    $w.WriteStartElement('command', 'examples', $command)
    $i = 0
    foreach ($ex in $examples) {
        $i++
        $w.WriteStartElement('command', 'example', $command)
        $w.WriteElementString('maml', 'title', $maml, "-------------------------- Example $i --------------------------")
        $w.WriteElementString('dev', 'code', $dev, (Get-Code $ex.SelectSingleNode('code')))
        Write-Paras 'dev' $dev 'remarks' @($ex.SelectNodes('para') | ForEach-Object { Get-Text $_ })
        $w.WriteEndElement()
    }
    $w.WriteEndElement()
    $w.WriteEndElement()
}
$w.WriteEndElement()
$w.WriteEndDocument()
$w.Dispose()

if ($problems.Count) {
    Remove-Item -LiteralPath $outFile
    throw "help is incomplete:`n  $($problems -join "`n  ")"
}
Write-Host "wrote $outFile ($($cmdlets.Count) cmdlets)"
