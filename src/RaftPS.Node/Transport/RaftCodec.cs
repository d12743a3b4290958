using RaftPS.Consensus;
using RaftPS.Protocol.Wire;

namespace RaftPS.Node.Transport;

/// <summary>
/// Binary encoding of <see cref="Message"/> (payload of <see cref="MessageKind.Raft"/> datagrams). Lives in the
/// node because the Protocol assembly must not depend on Consensus. Integers are varints; entries are written
/// straight into the caller's (pooled) <see cref="WireWriter"/>, so the only copy of entry data on the send path
/// is into the datagram buffer. Decoding throws only <see cref="WireFormatException"/>.
/// </summary>
public static class RaftCodec
{
    [Flags]
    private enum Fields : byte
    {
        Reject = 1,
        Context = 2,
        Snapshot = 4,
    }

    private const byte KnownFields = 7;
    // Smallest encodings: entry = term, index, type, data length (1 byte each); voter id = 1 byte.
    private const int MinEntrySize = 4;

    public static void Write(WireWriter w, Message m)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(m);
        w.WriteByte((byte)m.Type);
        var fields = (m.Reject ? Fields.Reject : 0)
                     | (m.Context is not null ? Fields.Context : 0)
                     | (m.Snapshot is not null ? Fields.Snapshot : 0);
        w.WriteByte((byte)fields);
        w.WriteVarUInt64(m.From);
        w.WriteVarUInt64(m.To);
        w.WriteVarUInt64(m.Term);
        w.WriteVarUInt64(m.LogTerm);
        w.WriteVarUInt64(m.Index);
        w.WriteVarUInt64(m.Commit);
        w.WriteVarUInt64(m.RejectHint);
        var entries = m.Entries;
        w.WriteVarUInt64((ulong)entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            w.WriteVarUInt64(e.Term);
            w.WriteVarUInt64(e.Index);
            w.WriteByte((byte)e.Type);
            w.WriteBytes(e.Data);
        }
        if (m.Context is not null) w.WriteBytes(m.Context);
        if (m.Snapshot is { } s)
        {
            w.WriteVarUInt64(s.Metadata.Index);
            w.WriteVarUInt64(s.Metadata.Term);
            WriteConfState(w, s.Metadata.ConfState);
            w.WriteBytes(s.Data);
        }
    }

    public static Message Read(ReadOnlySpan<byte> payload)
    {
        var r = new WireReader(payload);
        byte type = r.ReadByte();
        if (!IsDefined(type)) throw new WireFormatException($"unknown raft message type {type}");
        byte fieldsByte = r.ReadByte();
        if ((fieldsByte & ~KnownFields) != 0) throw new WireFormatException($"unknown raft field flags {fieldsByte:x2}");
        var fields = (Fields)fieldsByte;
        ulong from = r.ReadVarUInt64();
        ulong to = r.ReadVarUInt64();
        ulong term = r.ReadVarUInt64();
        ulong logTerm = r.ReadVarUInt64();
        ulong index = r.ReadVarUInt64();
        ulong commit = r.ReadVarUInt64();
        ulong rejectHint = r.ReadVarUInt64();
        int count = r.ReadCount(MinEntrySize);
        IReadOnlyList<Entry> entries = [];
        if (count > 0)
        {
            var list = new Entry[count];
            for (int i = 0; i < count; i++)
            {
                ulong eTerm = r.ReadVarUInt64();
                ulong eIndex = r.ReadVarUInt64();
                byte eType = r.ReadByte();
                if (eType > (byte)EntryType.ConfChange) throw new WireFormatException($"unknown entry type {eType}");
                list[i] = new Entry(eTerm, eIndex, (EntryType)eType, ReadData(ref r));
            }
            entries = list;
        }
        byte[]? context = (fields & Fields.Context) != 0 ? r.ReadBytes() : null;
        Snapshot? snapshot = null;
        if ((fields & Fields.Snapshot) != 0)
        {
            ulong sIndex = r.ReadVarUInt64();
            ulong sTerm = r.ReadVarUInt64();
            var conf = ReadConfState(ref r);
            snapshot = new Snapshot(new SnapshotMetadata(sIndex, sTerm, conf), ReadData(ref r));
        }
        r.EnsureEnd();
        return new Message
        {
            Type = (MessageType)type,
            From = from,
            To = to,
            Term = term,
            LogTerm = logTerm,
            Index = index,
            Commit = commit,
            Reject = (fields & Fields.Reject) != 0,
            RejectHint = rejectHint,
            Entries = entries,
            Context = context,
            Snapshot = snapshot,
        };
    }

    /// <summary>Non-throwing decode.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Message? message) =>
        WireCodec.TryRead(payload, Read, out message);

    public static byte[] Encode(Message m) => WireCodec.Encode<Message>(m, Write);

    // Empty data shares the core's static empty array instead of allocating one per entry (heartbeat batches, no-ops).
    private static byte[] ReadData(ref WireReader r)
    {
        var span = r.ReadBytesSpan();
        return span.IsEmpty ? Entry.Empty : span.ToArray();
    }

    private static void WriteConfState(WireWriter w, ConfState c)
    {
        WriteIds(w, c.Voters);
        WriteIds(w, c.Learners);
        WriteIds(w, c.VotersOutgoing);
        WriteIds(w, c.LearnersNext);
        w.WriteBool(c.AutoLeave);
        // The member table (addresses) travels with the configuration, also in snapshots sent to followers.
        w.WriteBytes(c.Context ?? []);
    }

    private static ConfState ReadConfState(ref WireReader r)
    {
        var voters = ReadIds(ref r);
        var learners = ReadIds(ref r);
        var outgoing = ReadIds(ref r);
        var learnersNext = ReadIds(ref r);
        bool autoLeave = r.ReadBool();
        var context = r.ReadBytes();
        return new ConfState(voters, learners, outgoing, learnersNext, autoLeave, context.Length == 0 ? null : context);
    }

    private static void WriteIds(WireWriter w, IReadOnlyList<ulong> ids)
    {
        w.WriteVarUInt64((ulong)ids.Count);
        for (int i = 0; i < ids.Count; i++) w.WriteVarUInt64(ids[i]);
    }

    private static ulong[] ReadIds(ref WireReader r)
    {
        int n = r.ReadCount(1);
        if (n == 0) return [];
        var ids = new ulong[n];
        for (int i = 0; i < n; i++) ids[i] = r.ReadVarUInt64();
        return ids;
    }

    private static bool IsDefined(byte type) =>
        type is (byte)MessageType.Hup or (byte)MessageType.Beat
            or >= (byte)MessageType.PreVote and <= (byte)MessageType.TimeoutNow;
}
