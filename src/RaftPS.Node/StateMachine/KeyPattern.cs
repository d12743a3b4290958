namespace RaftPS.Node.StateMachine;

/// <summary>
/// List patterns. A pattern without '*' or '?' is a prefix ("app/" matches every key starting with it; "" matches all).
/// Otherwise it is a glob over the whole key: '*' matches any run of characters (including '/' and none),
/// '?' exactly one UTF-16 code unit. There is no escape: '*' and '?' are always wildcards.
/// </summary>
public static class KeyPattern
{
    private static readonly char[] Wildcards = ['*', '?'];

    public static bool IsWildcard(string pattern) => pattern.IndexOfAny(Wildcards) >= 0;

    /// <summary>The literal text every matching key starts with: the whole prefix, or a glob's text before its first wildcard.</summary>
    public static string LiteralPrefix(string pattern)
    {
        int i = pattern.IndexOfAny(Wildcards);
        return i < 0 ? pattern : pattern[..i];
    }

    public static bool IsMatch(string pattern, string key)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(key);
        return IsWildcard(pattern) ? GlobMatch(pattern, key) : key.StartsWith(pattern, StringComparison.Ordinal);
    }

    /// <summary>
    /// Iterative glob match with single-star backtracking: on a mismatch, resume after the most recent '*' with one more
    /// character consumed by it. O(pattern × key) worst case, no recursion.
    /// </summary>
    public static bool GlobMatch(string pattern, string key)
    {
        int p = 0, k = 0, starP = -1, starK = 0;
        while (k < key.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || (pattern[p] != '*' && pattern[p] == key[k])))
            {
                p++;
                k++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                starP = p++;
                starK = k;
            }
            else if (starP >= 0)
            {
                p = starP + 1;
                k = ++starK;
            }
            else
                return false;
        }
        while (p < pattern.Length && pattern[p] == '*')
            p++;
        return p == pattern.Length;
    }
}
