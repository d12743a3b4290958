using RaftPS.Consensus;
using RaftPS.Node.StateMachine;

namespace RaftPS.Node;

/// <summary>
/// Replicated state machine settings (session timeout, session and tombstone bounds, value size limit, clock step): a
/// leader of a cluster whose log has never set them proposes its own options once per term, after its first entry of
/// the term applied. From then on every replica applies with the settings in the log, whatever its local options say,
/// so replicas cannot drift. (Writing them at bootstrap would not do: founding members may differ in their options, and
/// entries of equal index and term must be equal.)
/// </summary>
public sealed partial class RaftServer
{
    private ulong _settingsProposedInTerm;

    private void ProposeReplicatedSettings()
    {
        if (_raft.Role != Role.Leader || _kv.SettingsFromLog || _settingsProposedInTerm == _raft.Term) return;
        if (_raft.Log.Term(_raft.Log.Applied) != _raft.Term) return; // this term's no-op first: the log is current
        var command = KvCommand.ForSettings(KvSettings.From(_options.Kv), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        if (_raft.Propose(KvCommandCodec.Encode(command)) != 0) _settingsProposedInTerm = _raft.Term;
    }
}
