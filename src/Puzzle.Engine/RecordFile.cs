using System.Text.Json;
using Puzzle.Engine.Checkpoints;

namespace Puzzle.Engine;

/// <summary>
/// A JSON file as a typed record (a stage's output, report.json): written as the product writes JSON (snake_case,
/// indented, atomically), read back into the same record, with errors that name the file and what is wrong.
/// </summary>
public static class RecordFile
{
    public static void Write<T>(string path, T record) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(record, Readable) + "\n");

    /// <summary>The record as JSON, as <see cref="Write{T}"/> writes it (for a file that embeds it).</summary>
    public static System.Text.Json.Nodes.JsonObject ToJson<T>(T record) => JsonSerializer.SerializeToNode(record, Readable)!.AsObject();

    /// <summary>People read these files too: "≥" and "‖" stay as they are, and fields a record leaves unset are left out.</summary>
    static readonly JsonSerializerOptions Readable = new(PuzzleJson.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <exception cref="InvalidDataException">The file is missing, not JSON, or not a <typeparamref name="T"/>.</exception>
    public static T Read<T>(string path) where T : class
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: missing (a {typeof(T).Name} was expected)");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), PuzzleJson.Options)
                   ?? throw new InvalidDataException($"{path}: holds null, not a {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
