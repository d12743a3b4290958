namespace RaftPS.Protocol.Wire;

/// <summary>
/// Which credential sealed a datagram. A node trusts a datagram's claims only as far as its role: Raft messages need
/// <see cref="Peer"/>, operations that change the cluster need <see cref="Admin"/>, data operations need
/// <see cref="Client"/> (or <see cref="Admin"/>). Keys of different roles are derived with different labels, so no
/// secret of one role can seal a datagram that verifies under another.
/// </summary>
public enum CredentialRole : byte
{
    /// <summary>Plaintext: no credential (only accepted where the receiver holds no key for the role it would need).</summary>
    None = 0,
    Peer = 1,
    Client = 2,
    Admin = 3,
}
