namespace RaftPS.Protocol.Wire;

/// <summary>What a datagram's payload holds. Stored in the header's kind byte.</summary>
public enum MessageKind : byte
{
    Raft = 1,
    ClientRequest = 2,
    ClientReply = 3,
}

/// <summary>Header flag bits. Any bit not defined here makes the datagram malformed (so new flags need a new version).</summary>
[Flags]
public enum DatagramFlags : byte
{
    None = 0,
    /// <summary>The payload is AES-256-GCM ciphertext under the key named in the header, and a 16-byte tag follows it.</summary>
    Sealed = 1,
}
