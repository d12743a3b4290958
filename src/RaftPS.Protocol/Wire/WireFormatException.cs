namespace RaftPS.Protocol.Wire;

/// <summary>
/// The only exception the wire decoders throw: the bytes are not a valid datagram or message
/// (truncated, bad length, unknown enum value, trailing garbage, invalid UTF-8, over a size limit).
/// Encoders throw it too when a message cannot be represented (e.g. larger than the maximum message size).
/// </summary>
public sealed class WireFormatException : Exception
{
    public WireFormatException(string message) : base(message) { }
    public WireFormatException(string message, Exception inner) : base(message, inner) { }
}
