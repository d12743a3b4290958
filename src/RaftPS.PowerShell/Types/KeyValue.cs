using System.Management.Automation;
using System.Text;
using RaftPS.Protocol;

namespace RaftPS;

/// <summary>
/// One key of the store. Cmdlets emit it wrapped in a PSObject whose first type name is <c>RaftPS.Value</c> (a C# class
/// cannot be called Value and also have a Value property), so views, [OutputType] and scripts use that name.
/// </summary>
public sealed class KeyValue
{
    public const string TypeName = "RaftPS.Value";

    public KeyValue(string key, string value, ulong version)
    {
        Key = key;
        Value = value;
        Version = version;
    }

    public string Key { get; }

    /// <summary>The stored bytes as UTF-8 text (invalid sequences become U+FFFD).</summary>
    public string Value { get; }

    /// <summary>The log index of the write that stored this value; -ExpectedVersion compares against it.</summary>
    public ulong Version { get; }

    public override string ToString() => Key;

    internal static PSObject From(KvItem item) => Wrap(new KeyValue(item.Key, Encoding.UTF8.GetString(item.Value), item.Version));

    internal static PSObject Wrap(KeyValue value)
    {
        var pso = PSObject.AsPSObject(value);
        pso.TypeNames.Insert(0, TypeName);
        return pso;
    }
}
