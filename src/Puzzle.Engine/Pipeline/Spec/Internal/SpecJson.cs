using System.Collections;
using System.Text.Json.Nodes;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// Spec values as JSON in one canonical form: snake_case keys sorted ordinally, enums by their YAML spelling,
/// integers as integers and doubles in .NET's shortest round-trip form, unset optional fields as null.
/// </summary>
internal static class SpecJson
{
    public static JsonNode? ToNode(object? value)
    {
        switch (value)
        {
            case null: return null;
            case string s: return JsonValue.Create(s);
            case bool b: return JsonValue.Create(b);
            case int i: return JsonValue.Create((long)i);
            case long l: return JsonValue.Create(l);
            case double d: return JsonValue.Create(d == 0 ? 0.0 : d); // -0 and 0 are the same setting
            case Enum e: return JsonValue.Create(SpecNames.Of(e));
            case IEnumerable list:
                var array = new JsonArray();
                foreach (var item in list) array.Add(ToNode(item));
                return array;
            default:
                if (!SpecField.IsRecord(value.GetType())) throw new InvalidOperationException($"no JSON form for {value.GetType().Name}");
                return Record(value);
        }
    }

    static JsonObject Record(object record)
    {
        var obj = new JsonObject();
        foreach (var field in SpecField.Of(record.GetType()).OrderBy(f => f.Name, StringComparer.Ordinal))
            obj[field.Name] = ToNode(field.Get(record));
        return obj;
    }
}
