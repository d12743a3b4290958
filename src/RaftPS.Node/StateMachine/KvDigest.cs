namespace RaftPS.Node.StateMachine;

/// <summary>
/// A replica's state fingerprint (<see cref="KvStateMachine.Digest"/>): replicas that applied the same log agree on
/// <see cref="Hash"/> at the same <see cref="AppliedIndex"/>; a difference at an equal index means they drifted.
/// </summary>
public readonly record struct KvDigest(ulong AppliedIndex, UInt128 Hash)
{
    public override string ToString() => $"{AppliedIndex}:{Hash:x32}";
}
