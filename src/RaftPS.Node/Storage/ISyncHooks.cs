using Microsoft.Win32.SafeHandles;

namespace RaftPS.Node.Storage;

/// <summary>
/// Lets tests model the disk under the WAL: they learn which bytes of a segment are durable, and may pull the plug
/// between a segment's write and its fsync (the group-commit window a power loss hits). The node sets none.
/// </summary>
internal interface ISyncHooks
{
    /// <summary>The segment's records have been handed to the OS and its fsync is about to start.</summary>
    void BeforeSync(string path);

    /// <summary>The fsync of the segment returned: everything <paramref name="handle"/> reads now is durable.</summary>
    void AfterSync(string path, SafeFileHandle handle);
}
