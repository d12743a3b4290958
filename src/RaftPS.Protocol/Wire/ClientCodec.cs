namespace RaftPS.Protocol.Wire;

/// <summary>
/// Binary encoding of <see cref="ClientRequest"/> and <see cref="ClientReply"/> (payloads of
/// <see cref="MessageKind.ClientRequest"/>/<see cref="MessageKind.ClientReply"/> datagrams). Integers are varints,
/// strings UTF-8 with a length prefix, optional fields behind a presence-flag byte. Decoding validates enum values
/// and rejects trailing bytes; every failure is a <see cref="WireFormatException"/>.
/// </summary>
public static class ClientCodec
{
    [Flags]
    private enum RequestFields : byte
    {
        Value = 1,
        ExpectedVersion = 2,
        ExpectedValue = 4,
        Faults = 8,
        Endpoint = 16,
        AsLearner = 32,
        Force = 64,
        After = 128,
    }

    [Flags]
    private enum ReplyFields : byte
    {
        Stale = 1,
        LeaderId = 2,
        LeaderEndpoint = 4,
        Error = 8,
        NodeStatus = 16,
        MembershipError = 32,
        ContinuationToken = 64,
        Faults = 128,
    }

    private const ClientOp LastOp = ClientOp.Checkpoint;
    private const ReplyStatus LastStatus = ReplyStatus.Forbidden;

    public static void Write(WireWriter w, ClientRequest r)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        // Undefined enum values would be dropped by every receiver; fail at the sender instead.
        if (r.Op is < ClientOp.Get or > LastOp) throw new WireFormatException($"undefined client op {(byte)r.Op}");
        if (r.Consistency > ReadConsistency.Stale) throw new WireFormatException($"undefined read consistency {(byte)r.Consistency}");
        w.WriteVarUInt64(r.RequestId);
        w.WriteVarUInt64(r.ClientId);
        w.WriteVarUInt64(r.Sequence);
        w.WriteByte((byte)r.Op);
        w.WriteByte((byte)r.Consistency);
        var fields = (r.Value is not null ? RequestFields.Value : 0)
                     | (r.ExpectedVersion.HasValue ? RequestFields.ExpectedVersion : 0)
                     | (r.ExpectedValue is not null ? RequestFields.ExpectedValue : 0)
                     | (r.Faults is not null ? RequestFields.Faults : 0)
                     | (r.Endpoint is not null ? RequestFields.Endpoint : 0)
                     | (r.AsLearner ? RequestFields.AsLearner : 0)
                     | (r.Force ? RequestFields.Force : 0)
                     | (r.After is not null ? RequestFields.After : 0);
        w.WriteByte((byte)fields);
        w.WriteString(r.Key ?? "");
        if (r.Value is not null) w.WriteBytes(r.Value);
        if (r.ExpectedVersion is { } ev) w.WriteVarUInt64(ev);
        if (r.ExpectedValue is not null) w.WriteBytes(r.ExpectedValue);
        w.WriteVarInt32(r.Limit);
        if (r.Faults is { } f) WriteFaults(w, f);
        if (r.Endpoint is not null) w.WriteString(r.Endpoint);
        if (r.After is not null) w.WriteString(r.After);
    }

    public static ClientRequest ReadRequest(ReadOnlySpan<byte> payload)
    {
        var rd = new WireReader(payload);
        ulong requestId = rd.ReadVarUInt64();
        ulong clientId = rd.ReadVarUInt64();
        ulong sequence = rd.ReadVarUInt64();
        byte op = rd.ReadByte();
        if (op is < (byte)ClientOp.Get or > (byte)LastOp) throw new WireFormatException($"unknown client op {op}");
        byte consistency = rd.ReadByte();
        if (consistency > (byte)ReadConsistency.Stale) throw new WireFormatException($"unknown read consistency {consistency}");
        byte fieldsByte = rd.ReadByte();
        var fields = (RequestFields)fieldsByte;
        string key = rd.ReadString();
        byte[]? value = (fields & RequestFields.Value) != 0 ? rd.ReadBytes() : null;
        ulong? expectedVersion = (fields & RequestFields.ExpectedVersion) != 0 ? rd.ReadVarUInt64() : null;
        byte[]? expectedValue = (fields & RequestFields.ExpectedValue) != 0 ? rd.ReadBytes() : null;
        int limit = rd.ReadVarInt32();
        FaultSpec? faults = null;
        if ((fields & RequestFields.Faults) != 0) faults = ReadFaults(ref rd);
        string? endpoint = (fields & RequestFields.Endpoint) != 0 ? rd.ReadString() : null;
        string? after = (fields & RequestFields.After) != 0 ? rd.ReadString() : null;
        rd.EnsureEnd();
        return new ClientRequest
        {
            RequestId = requestId,
            ClientId = clientId,
            Sequence = sequence,
            Op = (ClientOp)op,
            Consistency = (ReadConsistency)consistency,
            Key = key,
            Value = value,
            ExpectedVersion = expectedVersion,
            ExpectedValue = expectedValue,
            Limit = limit,
            Faults = faults,
            Endpoint = endpoint,
            AsLearner = (fields & RequestFields.AsLearner) != 0,
            Force = (fields & RequestFields.Force) != 0,
            After = after,
        };
    }

    public static void Write(WireWriter w, ClientReply r)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(r);
        if (r.Status > LastStatus) throw new WireFormatException($"undefined reply status {(byte)r.Status}");
        w.WriteVarUInt64(r.RequestId);
        w.WriteByte((byte)r.Status);
        var fields = (r.Stale ? ReplyFields.Stale : 0)
                     | (r.LeaderId is not null ? ReplyFields.LeaderId : 0)
                     | (r.LeaderEndpoint is not null ? ReplyFields.LeaderEndpoint : 0)
                     | (r.Error is not null ? ReplyFields.Error : 0)
                     | (r.NodeStatus is not null ? ReplyFields.NodeStatus : 0)
                     | (r.MembershipError != MembershipError.None ? ReplyFields.MembershipError : 0)
                     | (r.ContinuationToken is not null ? ReplyFields.ContinuationToken : 0)
                     | (r.Faults is not null ? ReplyFields.Faults : 0);
        w.WriteByte((byte)fields);
        w.WriteVarUInt64(r.Version);
        if (r.LeaderId is not null) w.WriteString(r.LeaderId);
        if (r.LeaderEndpoint is not null) w.WriteString(r.LeaderEndpoint);
        if (r.Error is not null) w.WriteString(r.Error);
        var items = r.Items ?? [];
        w.WriteVarUInt64((ulong)items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            w.WriteString(item.Key ?? "");
            w.WriteBytes(item.Value ?? []);
            w.WriteVarUInt64(item.Version);
        }
        if (r.NodeStatus is { } s) WriteStatus(w, s);
        if (r.MembershipError != MembershipError.None) w.WriteByte((byte)r.MembershipError);
        if (r.ContinuationToken is not null) w.WriteString(r.ContinuationToken);
        if (r.Faults is { } faults) WriteFaults(w, faults);
    }

    public static ClientReply ReadReply(ReadOnlySpan<byte> payload)
    {
        var rd = new WireReader(payload);
        ulong requestId = rd.ReadVarUInt64();
        byte status = rd.ReadByte();
        if (status > (byte)LastStatus) throw new WireFormatException($"unknown reply status {status}");
        byte fieldsByte = rd.ReadByte();
        if ((fieldsByte & ~255) != 0) throw new WireFormatException($"unknown reply field flags {fieldsByte:x2}");
        var fields = (ReplyFields)fieldsByte;
        ulong version = rd.ReadVarUInt64();
        string? leaderId = (fields & ReplyFields.LeaderId) != 0 ? rd.ReadString() : null;
        string? leaderEndpoint = (fields & ReplyFields.LeaderEndpoint) != 0 ? rd.ReadString() : null;
        string? error = (fields & ReplyFields.Error) != 0 ? rd.ReadString() : null;
        // Smallest item: empty key (1), empty value (1), version (1).
        int count = rd.ReadCount(3);
        var items = count == 0 ? Array.Empty<KvItem>() : new KvItem[count];
        for (int i = 0; i < count; i++)
            items[i] = new KvItem(rd.ReadString(), rd.ReadBytes(), rd.ReadVarUInt64());
        NodeStatus? nodeStatus = (fields & ReplyFields.NodeStatus) != 0 ? ReadStatus(ref rd) : null;
        var membershipError = MembershipError.None;
        if ((fields & ReplyFields.MembershipError) != 0)
        {
            byte code = rd.ReadByte();
            if (code is 0 or > (byte)MembershipError.InvalidMember) throw new WireFormatException($"unknown membership error {code}");
            membershipError = (MembershipError)code;
        }
        string? continuation = (fields & ReplyFields.ContinuationToken) != 0 ? rd.ReadString() : null;
        FaultSpec? replyFaults = (fields & ReplyFields.Faults) != 0 ? ReadFaults(ref rd) : null;
        rd.EnsureEnd();
        return new ClientReply
        {
            RequestId = requestId,
            Status = (ReplyStatus)status,
            Stale = (fields & ReplyFields.Stale) != 0,
            LeaderId = leaderId,
            LeaderEndpoint = leaderEndpoint,
            Error = error,
            Items = items,
            Version = version,
            NodeStatus = nodeStatus,
            MembershipError = membershipError,
            ContinuationToken = continuation,
            Faults = replyFaults,
        };
    }

    private static void WriteFaults(WireWriter w, FaultSpec f)
    {
        if (!(f.DropRate >= 0 && f.DropRate <= 1)) throw new WireFormatException("drop rate must be within [0, 1]");
        w.WriteVarUInt64((ulong)Math.Round(f.DropRate * 1_000_000));
        w.WriteVarInt32(f.DelayMs);
        w.WriteVarUInt64((ulong)f.PartitionFrom.Count);
        foreach (var p in f.PartitionFrom) w.WriteString(p);
        w.WriteVarInt32(f.SuspendMs);
    }

    private static FaultSpec ReadFaults(ref WireReader rd)
    {
        var ppm = rd.ReadVarUInt64();
        if (ppm > 1_000_000) throw new WireFormatException("drop rate above 1");
        int delay = rd.ReadVarInt32();
        int count = rd.ReadCount(1);
        var from = new string[count];
        for (int i = 0; i < count; i++) from[i] = rd.ReadString();
        return new FaultSpec { DropRate = ppm / 1_000_000.0, DelayMs = delay, PartitionFrom = from, SuspendMs = rd.ReadVarInt32() };
    }

    private static void WriteStatus(WireWriter w, NodeStatus s)
    {
        w.WriteString(s.Id ?? "");
        w.WriteString(s.Role ?? "");
        w.WriteVarUInt64(s.Term);
        w.WriteNullableString(s.Leader);
        w.WriteVarUInt64(s.CommitIndex);
        w.WriteVarUInt64(s.AppliedIndex);
        w.WriteVarUInt64(s.LastIndex);
        w.WriteVarUInt64(s.SnapshotIndex);
        var members = s.Members ?? [];
        w.WriteVarUInt64((ulong)members.Count);
        for (int i = 0; i < members.Count; i++)
        {
            var m = members[i];
            w.WriteString(m.Id ?? "");
            w.WriteString(m.Host ?? "");
            w.WriteVarInt32(m.Port);
            w.WriteBool(m.IsVoter);
            w.WriteString(m.Role ?? "");
            w.WriteVarUInt64(m.Match);
            w.WriteVarUInt64(m.Lag);
            w.WriteBool(m.Reachable);
        }
        bool digest = s.Digest is not null, mismatch = s.DigestMismatch is not null;
        w.WriteByte((byte)((s.Joint ? 1 : 0) | (s.ChangePending ? 2 : 0) | (s.Removed ? 4 : 0) | (s.Joining ? 8 : 0)
            | (digest ? 16 : 0) | (mismatch ? 32 : 0)));
        if (digest)
        {
            w.WriteVarUInt64(s.DigestIndex);
            w.WriteString(s.Digest!);
            w.WriteVarUInt64(s.DigestVerifiedIndex);
        }
        if (mismatch) w.WriteString(s.DigestMismatch!);
    }

    private static NodeStatus ReadStatus(ref WireReader rd)
    {
        string id = rd.ReadString();
        string role = rd.ReadString();
        ulong term = rd.ReadVarUInt64();
        string? leader = rd.ReadNullableString();
        ulong commit = rd.ReadVarUInt64();
        ulong applied = rd.ReadVarUInt64();
        ulong last = rd.ReadVarUInt64();
        ulong snapshot = rd.ReadVarUInt64();
        // Smallest member: empty id (1), empty host (1), port (1), voter flag (1), role (1), match (1), lag (1), reachable (1).
        int count = rd.ReadCount(8);
        var members = count == 0 ? Array.Empty<MemberInfo>() : new MemberInfo[count];
        for (int i = 0; i < count; i++)
        {
            members[i] = new MemberInfo(rd.ReadString(), rd.ReadString(), rd.ReadVarInt32(), rd.ReadBool())
            {
                Role = rd.ReadString(), Match = rd.ReadVarUInt64(), Lag = rd.ReadVarUInt64(), Reachable = rd.ReadBool(),
            };
        }
        byte flags = rd.ReadByte();
        if ((flags & ~63) != 0) throw new WireFormatException($"unknown status flags {flags:x2}");
        ulong digestIndex = 0, verified = 0;
        string? digest = null;
        if ((flags & 16) != 0)
        {
            digestIndex = rd.ReadVarUInt64();
            digest = rd.ReadString();
            verified = rd.ReadVarUInt64();
        }
        string? mismatch = (flags & 32) != 0 ? rd.ReadString() : null;
        return new NodeStatus
        {
            Id = id,
            Role = role,
            Term = term,
            Leader = leader,
            CommitIndex = commit,
            AppliedIndex = applied,
            LastIndex = last,
            SnapshotIndex = snapshot,
            Members = members,
            Joint = (flags & 1) != 0,
            ChangePending = (flags & 2) != 0,
            Removed = (flags & 4) != 0,
            Joining = (flags & 8) != 0,
            DigestIndex = digestIndex,
            Digest = digest,
            DigestVerifiedIndex = verified,
            DigestMismatch = mismatch,
        };
    }

    /// <summary>Non-throwing decode: false for any malformed payload.</summary>
    public static bool TryReadRequest(ReadOnlySpan<byte> payload, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClientRequest? request) =>
        WireCodec.TryRead(payload, ReadRequest, out request);

    /// <summary>Non-throwing decode: false for any malformed payload.</summary>
    public static bool TryReadReply(ReadOnlySpan<byte> payload, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ClientReply? reply) =>
        WireCodec.TryRead(payload, ReadReply, out reply);

    public static byte[] Encode(ClientRequest request) => WireCodec.Encode<ClientRequest>(request, Write);

    public static byte[] Encode(ClientReply reply) => WireCodec.Encode<ClientReply>(reply, Write);
}
