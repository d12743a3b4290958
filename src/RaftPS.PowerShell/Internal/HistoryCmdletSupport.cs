using System.Management.Automation;
using RaftPS.History;

namespace RaftPS.PowerShell;

/// <summary>Loading history files with the module's error conventions (NotFound, InvalidHistory).</summary>
internal static class HistoryCmdletSupport
{
    /// <summary>The history in <paramref name="path"/>, or null after writing a non-terminating error.</summary>
    public static OperationHistory? TryLoad(Cmdlet cmdlet, string path)
    {
        try
        {
            return HistoryFile.Load(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            cmdlet.WriteError(new ErrorRecord(e, RaftErrorId.NotFound, ErrorCategory.ObjectNotFound, path));
        }
        catch (HistoryFormatException e)
        {
            cmdlet.WriteError(new ErrorRecord(e, HistoryErrorId.InvalidHistory, ErrorCategory.InvalidData, path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            cmdlet.WriteError(new ErrorRecord(e, HistoryErrorId.InvalidHistory, ErrorCategory.ReadError, path));
        }
        return null;
    }
}
