#nullable enable
// Part of the front-end contract: compiled into Puzzle.Tasks and #loaded by build/puzzle.cake as well, so it uses the
// base library only. A Cake script cannot declare a namespace, hence the #if.
using System.Text.Json;
using System.Text.Json.Serialization;

#if !CAKE
namespace Puzzle.Engine;
#endif

/// <summary>How the product writes its own JSON files (manifests, reports, run records): snake_case, indented.</summary>
public static class PuzzleJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>
    /// <see cref="Options"/>, strict: a front end reading a document that lacks a field or holds null where the record
    /// has none fails on reading, not later on a null.
    /// </summary>
    static readonly JsonSerializerOptions Strict = new(Options) { RespectRequiredConstructorParameters = true, RespectNullableAnnotations = true };

    /// <summary>Reads one document of the front-end contract; a malformed or incomplete one is an error that names <paramref name="source"/>.</summary>
    public static T Read<T>(string json, string source) where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Strict) ?? throw new JsonException("the document is null");
        }
        catch (JsonException e)
        {
            throw new JsonException($"{source}: not a {typeof(T).Name}: {e.Message}", e);
        }
    }
}
#nullable restore
