using System.Collections;
using System.Management.Automation.Language;

namespace RaftPS.PowerShell;

/// <summary>What the argument completers share: the connection to ask, and quoting of completed text.</summary>
internal static class CompleterConnection
{
    /// <summary>The -Connection already typed on the command line, else the session default.</summary>
    public static Connection? From(IDictionary fakeBoundParameters)
    {
        var bound = fakeBoundParameters["Connection"];
        if (bound is System.Management.Automation.PSObject pso) bound = pso.BaseObject;
        return bound as Connection is { IsClosed: false } c ? c : SessionConnections.Default;
    }

    /// <summary>Single-quotes text that would not survive as a bare word.</summary>
    public static string Quote(string text) =>
        text.Length > 0 && text.All(ch => char.IsLetterOrDigit(ch) || ch is '/' or '.' or '-' or '_' or ':')
            ? text
            : "'" + CodeGeneration.EscapeSingleQuotedStringContent(text) + "'";
}
