using System.Text.Json;
using System.Text.RegularExpressions;

namespace Puzzle.Engine;

/// <summary>A JSON parse error as a user reads it: where it is, counted from 1 as editors count, and what is wrong,
/// without .NET's own 0-based "LineNumber: 0 | BytePositionInLine: 1" suffix.</summary>
public static partial class JsonErrors
{
    [GeneratedRegex(@"\s*(Path: \S* \| )?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$")]
    private static partial Regex Position();

    /// <summary>"line 3, column 7: 'g' is an invalid start of a value." (<paramref name="oneLine"/>: "column 7: ...",
    /// for a document that is one line of a file whose line the caller names).</summary>
    public static string Describe(JsonException error, bool oneLine = false)
    {
        var what = Position().Replace(error.Message, "").Trim();
        if (error.Path is { Length: > 1 } path) what += $" (at {path})";
        if (error.LineNumber is not { } line || error.BytePositionInLine is not { } column) return what;
        return oneLine ? $"column {column + 1}: {what}" : $"line {line + 1}, column {column + 1}: {what}";
    }
}
