using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using RaftPS.Protocol;

namespace RaftPS.Cli;

/// <summary>Formatting shared by the commands: aligned tables, one-line JSON, and values that may not be text.</summary>
public static class Output
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // Keys and values are user text: keep non-ASCII readable instead of \uXXXX. Still valid JSON.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>The value as UTF-8 text, or null when the bytes are not valid UTF-8 (another client stored binary).</summary>
    public static string? TryDecode(byte[] value)
    {
        try
        {
            return StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>A value for a human: text as is, binary as "base64:...".</summary>
    public static string Display(byte[] value) => TryDecode(value) ?? "base64:" + Convert.ToBase64String(value);

    /// <summary>One table cell: control characters escaped so that every row stays on one line.</summary>
    public static string Cell(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string? escaped = c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\x{(int)c:x2}",
                _ => null,
            };
            if (escaped is null)
            {
                sb?.Append(c);
                continue;
            }
            sb ??= new StringBuilder(text, 0, i, text.Length + 8);
            sb.Append(escaped);
        }
        return sb?.ToString() ?? text;
    }

    /// <summary>Writes <paramref name="rows"/> under <paramref name="header"/> in left-aligned columns two spaces apart.</summary>
    public static void Table(TextWriter writer, IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { header };
        all.AddRange(rows);
        var widths = new int[header.Count];
        foreach (var row in all)
        {
            if (row.Count != header.Count) throw new ArgumentException($"row has {row.Count} cells, header has {header.Count}", nameof(rows));
            for (int i = 0; i < row.Count; i++) widths[i] = Math.Max(widths[i], row[i].Length);
        }
        var line = new StringBuilder();
        foreach (var row in all)
        {
            line.Clear();
            for (int i = 0; i < row.Count; i++)
            {
                if (i > 0) line.Append("  ");
                // The last column is not padded: no trailing spaces.
                line.Append(i == row.Count - 1 ? row[i] : row[i].PadRight(widths[i]));
            }
            // An empty last cell would otherwise leave the separator dangling.
            writer.WriteLine(line.ToString().TrimEnd(' '));
        }
    }

    /// <summary>Writes one JSON document on one line.</summary>
    public static void Json(TextWriter writer, Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions)) write(json);
        writer.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    /// <summary>Writes "value" (text) or "valueBase64" (binary) for <paramref name="value"/>.</summary>
    public static void WriteValue(Utf8JsonWriter json, byte[] value)
    {
        if (TryDecode(value) is { } text) json.WriteString("value", text);
        else json.WriteString("valueBase64", Convert.ToBase64String(value));
    }

    /// <summary>"drop 20% of peer datagrams, delay 20 ms, cut off from n2,n3, suspended for 2000 ms (resumes by itself)".</summary>
    public static string DescribeFaults(FaultSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var parts = new List<string>(4);
        if (spec.DropRate > 0) parts.Add($"drop {(spec.DropRate * 100).ToString("0.###", CultureInfo.InvariantCulture)}% of peer datagrams");
        if (spec.DelayMs > 0) parts.Add($"delay {spec.DelayMs.ToString(CultureInfo.InvariantCulture)} ms");
        if (spec.PartitionFrom.Count > 0) parts.Add($"cut off from {string.Join(",", spec.PartitionFrom)}");
        if (spec.SuspendMs > 0) parts.Add($"suspended for {spec.SuspendMs.ToString(CultureInfo.InvariantCulture)} ms (resumes by itself)");
        return parts.Count == 0 ? "no faults" : string.Join(", ", parts);
    }
}
