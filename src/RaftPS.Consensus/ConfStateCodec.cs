using System.Buffers.Binary;

namespace RaftPS.Consensus;

/// <summary>Thrown when a configuration entry cannot be decoded.</summary>
public sealed class ConfStateFormatException(string message) : Exception(message);

/// <summary>
/// Binary form of a <see cref="ConfState"/>, the payload of a <see cref="EntryType.ConfChange"/> entry: the whole target
/// configuration (joint while VotersOutgoing is non-empty), so replaying a log reconstructs the configuration exactly.
/// </summary>
public static class ConfStateCodec
{
    // Version 1 had no context; version 2 appends the context (length-prefixed). Both decode.
    private const byte Version = 2;

    public static byte[] Encode(ConfState cs)
    {
        var context = cs.Context ?? [];
        int n = 2 + 4 * 4 + 8 * (cs.Voters.Count + cs.Learners.Count + cs.VotersOutgoing.Count + cs.LearnersNext.Count) + 4 + context.Length;
        var buf = new byte[n];
        int pos = 0;
        buf[pos++] = Version;
        buf[pos++] = cs.AutoLeave ? (byte)1 : (byte)0;
        foreach (var list in new[] { cs.Voters, cs.Learners, cs.VotersOutgoing, cs.LearnersNext })
        {
            BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(pos), list.Count);
            pos += 4;
            foreach (var id in list)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(buf.AsSpan(pos), id);
                pos += 8;
            }
        }
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(pos), context.Length);
        context.CopyTo(buf.AsSpan(pos + 4));
        return buf;
    }

    public static ConfState Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2 || data[0] is not (1 or Version)) throw new ConfStateFormatException("unknown configuration entry version");
        bool autoLeave = data[1] == 1;
        int pos = 2;
        var lists = new ulong[4][];
        for (int l = 0; l < 4; l++)
        {
            if (data.Length - pos < 4) throw new ConfStateFormatException("truncated configuration entry");
            int count = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
            pos += 4;
            if (count < 0 || (long)count * 8 > data.Length - pos) throw new ConfStateFormatException("bad member count in configuration entry");
            lists[l] = new ulong[count];
            for (int i = 0; i < count; i++, pos += 8) lists[l][i] = BinaryPrimitives.ReadUInt64LittleEndian(data[pos..]);
        }
        byte[]? context = null;
        if (data[0] == Version)
        {
            if (data.Length - pos < 4) throw new ConfStateFormatException("truncated configuration entry");
            int length = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
            pos += 4;
            if (length < 0 || length > data.Length - pos) throw new ConfStateFormatException("bad context length in configuration entry");
            context = length == 0 ? null : data.Slice(pos, length).ToArray();
            pos += length;
        }
        if (pos != data.Length) throw new ConfStateFormatException("trailing bytes in configuration entry");
        return new ConfState(lists[0], lists[1], lists[2], lists[3], autoLeave, context);
    }
}
