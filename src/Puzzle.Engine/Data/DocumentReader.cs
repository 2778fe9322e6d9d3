using System.Text;
using System.Text.Json;

namespace Puzzle.Engine.Data;

/// <summary>One document of an input file.</summary>
/// <param name="Text">The text, with CRLF line ends turned into LF.</param>
/// <param name="Line">1-based line of a JSONL record; 0 for a whole .txt file.</param>
public readonly record struct Document(string Text, int Line);

/// <summary>Reads the documents of one input file: a .txt file is one document, a .jsonl file one per line.</summary>
public static class DocumentReader
{
    public const string DefaultJsonlField = "text";

    /// <exception cref="InvalidDataException">A JSONL line that is not a JSON object with a string
    /// <paramref name="jsonlField"/>; the message starts with <c>path:line:</c>.</exception>
    public static IEnumerable<Document> Read(string path, string jsonlField = DefaultJsonlField)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".txt" => ReadText(path),
            ".jsonl" => ReadJsonl(path, jsonlField),
            _ => throw new InvalidDataException($"{path}: unsupported input kind '{ext}'"),
        };
    }

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// A file's bytes as text: UTF-16 after its byte-order mark, else UTF-8 (a mark skipped, <paramref name="start"/> 3),
    /// strictly: null where a byte is no UTF-8, <paramref name="bad"/> its offset in <paramref name="bytes"/>.
    /// </summary>
    internal static string? Decode(byte[] bytes, out int start, out int bad)
    {
        (start, bad) = (0, -1);
        if (bytes is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..])
        {
            using var reader = new StreamReader(new MemoryStream(bytes), detectEncodingFromByteOrderMarks: true);
            return reader.ReadToEnd();
        }
        start = bytes is [0xEF, 0xBB, 0xBF, ..] ? 3 : 0;
        try { return StrictUtf8.GetString(bytes, start, bytes.Length - start); }
        catch (DecoderFallbackException e)
        {
            bad = start + Math.Max(0, e.Index);
            return null;
        }
    }

    /// <summary>A whole .txt file, as UTF-8 (a byte-order mark of UTF-8 or UTF-16 is followed): bytes that are not UTF-8,
    /// or a NUL, make it no text file (binary data, or another encoding) and fail here, rather than training on U+FFFD.</summary>
    static IEnumerable<Document> ReadText(string path)
    {
        var text = Decode(File.ReadAllBytes(path), out _, out var bad)
                   ?? throw new InvalidDataException($"{path}: not UTF-8 text (bytes that are no UTF-8 at offset {bad:N0}); " +
                                                     "a binary file, or text in another encoding: convert it, e.g. iconv -f latin1 -t utf-8");
        if (text.IndexOf('\0') is var nul and >= 0)
            throw new InvalidDataException($"{path}: not text (a NUL character at character {nul:N0}); a binary file, or UTF-16 without its byte-order mark");
        yield return new Document(Normalize(text), 0);
    }

    /// <summary>
    /// The lines of a JSON lines file with their 1-based numbers, as UTF-8 (a byte-order mark of UTF-8 or UTF-16 is
    /// followed): a line with bytes that are no UTF-8 fails naming <c>path:line</c>, rather than reading as U+FFFD.
    /// </summary>
    public static IEnumerable<(string Text, int Line)> ReadLines(string path)
    {
        using var reader = StartsWithUtf16Mark(path)
            ? new StreamReader(path, detectEncodingFromByteOrderMarks: true)
            : new StreamReader(path, StrictUtf8WithMark, detectEncodingFromByteOrderMarks: false); // detection would read UTF-8 leniently
        var lineNo = 0;
        while (Next() is { } line) yield return (line, ++lineNo);

        string? Next()
        {
            try { return reader.ReadLine(); }
            catch (DecoderFallbackException e) { throw NotUtf8Line(path, e); }
        }
    }

    /// <summary>The same encoding, skipping a UTF-8 byte-order mark at the start of a file.</summary>
    static readonly UTF8Encoding StrictUtf8WithMark = new(encoderShouldEmitUTF8Identifier: true, throwOnInvalidBytes: true);

    static bool StartsWithUtf16Mark(string path)
    {
        using var stream = File.OpenRead(path);
        var (first, second) = (stream.ReadByte(), stream.ReadByte());
        return (first, second) is (0xFF, 0xFE) or (0xFE, 0xFF);
    }

    /// <summary>The line of <paramref name="path"/> with bytes that are no UTF-8: a reader decodes ahead of the line it
    /// returns, so the line is found again, each line's bytes taken as they are (Latin-1 maps each byte to one char).</summary>
    static InvalidDataException NotUtf8Line(string path, DecoderFallbackException e)
    {
        const string remedy = "text in another encoding, or a binary file: convert it, e.g. iconv -f latin1 -t utf-8";
        using var raw = new StreamReader(path, Encoding.Latin1, detectEncodingFromByteOrderMarks: false);
        var lineNo = 0;
        while (raw.ReadLine() is { } line)
        {
            lineNo++;
            try { StrictUtf8.GetString(Encoding.Latin1.GetBytes(line)); }
            catch (DecoderFallbackException bad)
            {
                return new InvalidDataException($"{path}:{lineNo}: not UTF-8 text (bytes that are no UTF-8 at byte {bad.Index + 1:N0} of the line); {remedy}", e);
            }
        }
        return new InvalidDataException($"{path}: not UTF-8 text; {remedy}", e);
    }

    static IEnumerable<Document> ReadJsonl(string path, string field)
    {
        foreach (var (line, lineNo) in ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            string text;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{path}:{lineNo}: expected a JSON object, got {doc.RootElement.ValueKind}");
                if (!doc.RootElement.TryGetProperty(field, out var value))
                    throw new InvalidDataException($"{path}:{lineNo}: the record has no \"{field}\" field");
                if (value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{path}:{lineNo}: \"{field}\" is {value.ValueKind}, not a string");
                text = value.GetString()!;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{lineNo}: not valid JSON: {JsonErrors.Describe(e, oneLine: true)}", e);
            }
            yield return new Document(Normalize(text), lineNo);
        }
    }

    static string Normalize(string text) => text.Contains('\r') ? text.Replace("\r\n", "\n") : text;
}
