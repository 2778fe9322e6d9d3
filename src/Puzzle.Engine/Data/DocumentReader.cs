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

    static IEnumerable<Document> ReadText(string path)
    {
        yield return new Document(Normalize(File.ReadAllText(path, Encoding.UTF8)), 0);
    }

    static IEnumerable<Document> ReadJsonl(string path, string field)
    {
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
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
                throw new InvalidDataException($"{path}:{lineNo}: not valid JSON: {e.Message}", e);
            }
            yield return new Document(Normalize(text), lineNo);
        }
    }

    static string Normalize(string text) => text.Contains('\r') ? text.Replace("\r\n", "\n") : text;
}
