namespace RaftPS.Node.StateMachine;

/// <summary>
/// Bounds of one <c>list</c> reply: no reply needs the 64 MiB message limit and no read walks the whole store on the
/// event loop. A client asks for the next page with the previous reply's continuation token.
/// </summary>
public static class ListPaging
{
    /// <summary>Items per page when the request sets no limit.</summary>
    public const int DefaultPageSize = 1000;
    /// <summary>Items per page at most, whatever the request asks.</summary>
    public const int MaxPageSize = 10_000;
    /// <summary>Approximate bytes of keys and values per page (one item may overshoot it).</summary>
    public const long MaxPageBytes = 4 << 20;
    /// <summary>Keys examined per page: a wildcard matching little stops here and continues on the next request.</summary>
    public const int MaxScannedKeys = 100_000;

    public static int PageSize(int requested) => requested <= 0 ? DefaultPageSize : Math.Min(requested, MaxPageSize);
}
