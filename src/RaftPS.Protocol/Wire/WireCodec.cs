using System.Diagnostics.CodeAnalysis;

namespace RaftPS.Protocol.Wire;

/// <summary>Decodes a value from a payload, throwing <see cref="WireFormatException"/> when it is malformed.</summary>
public delegate T PayloadReader<out T>(ReadOnlySpan<byte> payload);

/// <summary>The encode / non-throwing decode wrappers every codec (client messages, Raft messages) shares.</summary>
public static class WireCodec
{
    /// <summary>False, with no exception, for any malformed payload.</summary>
    public static bool TryRead<T>(ReadOnlySpan<byte> payload, PayloadReader<T> read, [NotNullWhen(true)] out T? value) where T : class
    {
        try
        {
            value = read(payload);
            return true;
        }
        catch (WireFormatException)
        {
            value = null;
            return false;
        }
    }

    /// <summary>The payload bytes of <paramref name="value"/> as one array.</summary>
    public static byte[] Encode<T>(T value, Action<WireWriter, T> write)
    {
        using var w = new WireWriter();
        write(w, value);
        return w.ToArray();
    }
}
