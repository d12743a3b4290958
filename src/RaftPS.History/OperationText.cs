using System.Globalization;

namespace RaftPS.History;

/// <summary>Human-readable rendering of ops for explanations.</summary>
internal static class OperationText
{
    public static string Str(string s) =>
        s.Length <= 40 ? "\"" + s + "\"" : "\"" + s[..37] + "...\"";

    public static string Op(KvOperation op)
    {
        string body = op.Kind switch
        {
            KvOpKind.Put => $"Put({Str(op.Key)}, {Str(op.Value ?? "")})",
            KvOpKind.Delete => $"Delete({Str(op.Key)})",
            _ => $"Get({Str(op.Key)}) -> {(op.Output is null ? "absent" : Str(op.Output))}",
        };
        string ret = op.Completed ? op.Return.ToString(CultureInfo.InvariantCulture) : "?";
        string unknown = op.Completed ? "" : " (outcome unknown)";
        return string.Create(CultureInfo.InvariantCulture, $"client {op.ClientId} {body} [{op.Call}, {ret}]{unknown}");
    }
}
