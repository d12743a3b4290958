using RaftPS.Protocol;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Membership;

/// <summary>
/// The node-level half of a configuration: every member's id and address, which learners the leader promotes once they
/// catch up, and the ids removed so far (a removed server that comes back is refused, never re-admitted). It is the
/// opaque <see cref="RaftPS.Consensus.ConfState.Context"/> of each configuration entry and snapshot, so every replica's
/// address book follows the replicated configuration and no cluster file needs editing.
/// </summary>
public sealed class MemberTable
{
    private const byte Version = 1;
    private readonly Dictionary<ulong, ClusterMember> _byNodeId;

    public MemberTable(IEnumerable<ClusterMember> members, IEnumerable<string>? promoteWhenCaughtUp = null, IEnumerable<string>? removed = null)
    {
        Members = members.OrderBy(m => m.Id, StringComparer.Ordinal).ToArray();
        _byNodeId = Members.ToDictionary(m => m.NodeId);
        PromoteWhenCaughtUp = (promoteWhenCaughtUp ?? []).Where(id => _byNodeId.ContainsKey(ClusterDefinition.NodeIdOf(id)))
            .Distinct().Order(StringComparer.Ordinal).ToArray();
        Removed = (removed ?? []).Distinct().Order(StringComparer.Ordinal).ToArray();
        RemovedNodeIds = Removed.Select(ClusterDefinition.NodeIdOf).ToHashSet();
    }

    public static readonly MemberTable Empty = new([]);

    public IReadOnlyList<ClusterMember> Members { get; }
    /// <summary>Learners added without "as learner": the leader makes them voters once caught up (thesis §4.2.1).</summary>
    public IReadOnlyList<string> PromoteWhenCaughtUp { get; }
    public IReadOnlyList<string> Removed { get; }
    public IReadOnlySet<ulong> RemovedNodeIds { get; }

    public ClusterMember? Find(ulong nodeId) => _byNodeId.GetValueOrDefault(nodeId);
    public ClusterMember? Find(string id) => Find(ClusterDefinition.NodeIdOf(id));
    public bool Contains(ulong nodeId) => _byNodeId.ContainsKey(nodeId);
    public bool IsRemoved(ulong nodeId) => RemovedNodeIds.Contains(nodeId);

    public ulong[] PromoteNodeIds() => PromoteWhenCaughtUp.Select(ClusterDefinition.NodeIdOf).ToArray();

    public MemberTable WithMember(ClusterMember member, bool promote) =>
        new(Members.Where(m => m.Id != member.Id).Append(member), promote ? PromoteWhenCaughtUp.Append(member.Id) : PromoteWhenCaughtUp, Removed);

    public MemberTable WithoutMember(string id) =>
        new(Members.Where(m => m.Id != id), PromoteWhenCaughtUp.Where(p => p != id), Removed.Append(id));

    public MemberTable WithoutPromotion(IEnumerable<string> ids) =>
        new(Members, PromoteWhenCaughtUp.Except(ids), Removed);

    /// <summary>Keeps only the members the configuration still lists (after leaving a joint configuration, say).</summary>
    public MemberTable RetainOnly(IEnumerable<ulong> nodeIds)
    {
        var keep = nodeIds.ToHashSet();
        var gone = Members.Where(m => !keep.Contains(m.NodeId)).Select(m => m.Id);
        return new(Members.Where(m => keep.Contains(m.NodeId)), PromoteWhenCaughtUp, Removed.Concat(gone));
    }

    public byte[] Encode()
    {
        using var w = new WireWriter(256);
        w.WriteByte(Version);
        w.WriteVarUInt64((ulong)Members.Count);
        foreach (var m in Members)
        {
            w.WriteString(m.Id);
            w.WriteString(m.Host);
            w.WriteVarInt32(m.Port);
            w.WriteBool(PromoteWhenCaughtUp.Contains(m.Id));
        }
        w.WriteVarUInt64((ulong)Removed.Count);
        foreach (var id in Removed) w.WriteString(id);
        return w.ToArray();
    }

    /// <summary>Decodes a configuration's context; null or empty is an empty table (a configuration without addresses).</summary>
    /// <exception cref="WireFormatException">The bytes are not a member table.</exception>
    public static MemberTable Decode(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return Empty;
        var r = new WireReader(data);
        if (r.ReadByte() != Version) throw new WireFormatException("unknown member table version");
        int count = r.ReadCount(4);
        var members = new List<ClusterMember>(count);
        var promote = new List<string>();
        for (int i = 0; i < count; i++)
        {
            var id = r.ReadString();
            var host = r.ReadString();
            var port = r.ReadVarInt32();
            if (!ClusterDefinition.IsValidId(id) || port is < 1 or > 65535 || host.Length == 0)
                throw new WireFormatException($"bad member entry '{id}'");
            members.Add(new ClusterMember(id, host, port));
            if (r.ReadBool()) promote.Add(id);
        }
        int removedCount = r.ReadCount(1);
        var removed = new string[removedCount];
        for (int i = 0; i < removedCount; i++) removed[i] = r.ReadString();
        r.EnsureEnd();
        return new MemberTable(members, promote, removed);
    }
}
