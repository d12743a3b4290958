using RaftPS.Consensus;

namespace RaftPS.Node.Storage;

/// <summary>First record of every segment: lets replay start at this segment without any earlier one.</summary>
/// <param name="Seq">Sequence number; must match the file name (catches renamed or copied files).</param>
/// <param name="LastIndex">Index of the last log entry when the segment was started. A value below the previous
/// segment's end truncates the log to it (used when a snapshot resets or compacts the log).</param>
/// <param name="LastTerm">Term of the entry at <paramref name="LastIndex"/>.</param>
/// <param name="HardState">Hard state in force when the segment was started.</param>
/// <param name="Salt">Random per segment; a sync mark counts only in the segment whose salt it carries (0 in format 1
/// segments, which have no salt).</param>
internal readonly record struct SegmentHeader(ulong Seq, ulong LastIndex, ulong LastTerm, HardState HardState, ulong Salt);
