using System.Text.Json;

namespace Puzzle.Engine.Checkpoints;

/// <summary>
/// Typed access to the fields of one JSON object, where every failure is a <see cref="CheckpointException"/> naming the
/// file and the field's full path (e.g. <c>config.json: field 'block_configs[3].ffn.ffn_mult' ...</c>).
/// A field that is present with the value <c>null</c> counts as absent, as it does for Hugging Face configs.
/// </summary>
internal readonly struct JsonFields(JsonElement element, string file, string path = "")
{
    public string File => file;

    public string PathOf(string name) => path.Length == 0 ? name : $"{path}.{name}";

    public CheckpointException Error(string name, string message) => new($"{file}: field '{PathOf(name)}' {message}");

    public bool Has(string name) => TryGet(name, out _);

    /// <summary>Whether the field is present with the value <c>null</c>, where that means something other than absent
    /// (Mistral's <c>sliding_window</c>: null is no window, absent is transformers' default).</summary>
    public bool IsNull(string name) => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Null;

    /// <summary>The names of the fields present (not null), in file order.</summary>
    public IReadOnlyList<string> Names =>
        element.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).Select(p => p.Name).ToList();

    public bool TryGet(string name, out JsonElement value) =>
        element.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    public JsonElement Required(string name) =>
        TryGet(name, out var value) ? value : throw new CheckpointException($"{file}: required field '{PathOf(name)}' is missing");

    public int RequiredInt(string name) => AsInt(name, Required(name));

    public int? OptionalInt(string name) => TryGet(name, out var value) ? AsInt(name, value) : null;

    public double RequiredDouble(string name) => AsDouble(name, Required(name));

    public double? OptionalDouble(string name) => TryGet(name, out var value) ? AsDouble(name, value) : null;

    public bool OptionalBool(string name, bool fallback = false)
    {
        if (!TryGet(name, out var value)) return fallback;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(name, $"must be true or false, got {value.GetRawText()}"),
        };
    }

    public string? OptionalString(string name)
    {
        if (!TryGet(name, out var value)) return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Error(name, $"must be a string, got {value.GetRawText()}");
    }

    public JsonFields? OptionalObject(string name)
    {
        if (!TryGet(name, out var value)) return null;
        return value.ValueKind == JsonValueKind.Object
            ? new JsonFields(value, file, PathOf(name))
            : throw Error(name, $"must be an object, got {Abbreviate(value)}");
    }

    public JsonFields RequiredObject(string name) =>
        OptionalObject(name) ?? throw new CheckpointException($"{file}: required field '{PathOf(name)}' is missing");

    public IReadOnlyList<JsonElement> RequiredArray(string name)
    {
        var value = Required(name);
        return value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().ToList()
            : throw Error(name, $"must be an array, got {Abbreviate(value)}");
    }

    /// <summary>The object at <paramref name="index"/> of array field <paramref name="name"/>.</summary>
    public JsonFields Item(string name, int index, JsonElement item) =>
        item.ValueKind == JsonValueKind.Object
            ? new JsonFields(item, file, $"{PathOf(name)}[{index}]")
            : throw new CheckpointException($"{file}: field '{PathOf(name)}[{index}]' must be an object, got {Abbreviate(item)}");

    int AsInt(string name, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i)
            ? i
            : throw Error(name, $"must be an integer, got {Abbreviate(value)}");

    double AsDouble(string name, JsonElement value) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d)
            ? d
            : throw Error(name, $"must be a number, got {Abbreviate(value)}");

    static string Abbreviate(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 60 ? text : text[..57] + "...";
    }
}
