using System.Text.Json;
using System.Text.Json.Serialization;

namespace Puzzle.Engine;

/// <summary>How the product writes its own JSON files (manifests, reports, run records): snake_case, indented.</summary>
public static class PuzzleJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };
}
