using System.Text;
using RaftPS.History;

namespace RaftPS.Simulation;

/// <summary>A client command as it travels in the simulated log: (client, op id) make retries idempotent (thesis §6.3).</summary>
internal sealed record SimCommand(int Client, long OpId, KvOpKind Kind, string Key, string? Value)
{
    public byte[] Encode() => Encoding.UTF8.GetBytes($"{Client}|{OpId}|{(int)Kind}|{Key}|{Value ?? "\0"}");

    public static SimCommand Decode(byte[] data)
    {
        var p = Encoding.UTF8.GetString(data).Split('|');
        return new SimCommand(int.Parse(p[0]), long.Parse(p[1]), (KvOpKind)int.Parse(p[2]), p[3], p[4] == "\0" ? null : p[4]);
    }
}

/// <summary>The simulated replicas' state machine: a string map plus each client's last applied op id.</summary>
internal sealed class SimKv
{
    private readonly SortedDictionary<string, string> _data = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, long> _lastOp = new();

    public ulong Applied { get; private set; }

    public string? Get(string key) => _data.TryGetValue(key, out var v) ? v : null;

    /// <summary>Applies a command once; a retried command with an op id already applied changes nothing.</summary>
    public void Apply(ulong index, SimCommand cmd)
    {
        Applied = index;
        if (_lastOp.TryGetValue(cmd.Client, out var last) && cmd.OpId <= last) return;
        _lastOp[cmd.Client] = cmd.OpId;
        switch (cmd.Kind)
        {
            case KvOpKind.Put: _data[cmd.Key] = cmd.Value!; break;
            case KvOpKind.Delete: _data.Remove(cmd.Key); break;
        }
    }

    public void Skip(ulong index) => Applied = index;

    public byte[] Serialize()
    {
        var sb = new StringBuilder();
        sb.Append(Applied).Append('\n');
        foreach (var (k, v) in _data) sb.Append("d\t").Append(k).Append('\t').Append(v).Append('\n');
        foreach (var (c, o) in _lastOp) sb.Append("s\t").Append(c).Append('\t').Append(o).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static SimKv Deserialize(byte[] data)
    {
        var kv = new SimKv();
        var lines = Encoding.UTF8.GetString(data).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        kv.Applied = ulong.Parse(lines[0]);
        foreach (var line in lines.Skip(1))
        {
            var p = line.Split('\t');
            if (p[0] == "d") kv._data[p[1]] = p[2];
            else kv._lastOp[int.Parse(p[1])] = long.Parse(p[2]);
        }
        return kv;
    }

    public string Fingerprint() => Encoding.UTF8.GetString(Serialize());
}
