using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Spec.Internal;

namespace Puzzle.Engine.Pipeline.Graph;

/// <summary>
/// A job's configuration record as canonical JSON: what its key hashes. Every public property enters, keys sorted: at
/// its spec path where it has one (<see cref="SpecPathAttribute"/>: <c>bld.lr</c>, so "why stale" names spec fields),
/// else by its snake_case name; spec records in their spec form, other records as the product writes them, and a nested
/// <see cref="JobRecordAttribute"/> record's fields beside its owner's. Only a property marked
/// <see cref="NotInKeyAttribute"/> stays out: a field a stage reads is in its key unless the record says, with a
/// reason, why it cannot change the result.
/// </summary>
public static class JobConfig
{
    public static JsonObject ToJson(object record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record is JsonObject json) throw new ArgumentException("a job's config is a record, not a JsonObject", nameof(record));
        return (JsonObject)JobKey.Canonical(Record(record))!;
    }

    /// <summary>The properties of a job record that its key hashes: its fields (what can be set), less [NotInKey] ones;
    /// computed properties follow from them.</summary>
    public static IReadOnlyList<PropertyInfo> KeyedProperties(Type recordType) =>
        recordType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is not null && p.GetIndexParameters().Length == 0 && p.GetCustomAttribute<NotInKeyAttribute>() is null)
            .OrderBy(p => p.MetadataToken).ToList();

    static JsonObject Record(object record)
    {
        var obj = new JsonObject();
        Add(obj, record);
        return obj;
    }

    static void Add(JsonObject obj, object record)
    {
        foreach (var p in KeyedProperties(record.GetType()))
        {
            var value = p.GetValue(record);
            if (value is null && p.GetCustomAttribute<KeyedWhenSetAttribute>() is not null) continue;
            var path = p.GetCustomAttribute<SpecPathAttribute>()?.Path;
            if (path is null && value is not null && value.GetType().GetCustomAttribute<JobRecordAttribute>() is not null) Add(obj, value);
            else Put(obj, path ?? SpecNames.Snake(p.Name), Value(value));
        }
    }

    /// <summary>A C# record (the compiler gives it a clone method): written field by field.</summary>
    static bool IsRecord(Type type) => type.GetMethod("<Clone>$") is not null;

    /// <summary>Places <paramref name="value"/> at a dotted path, merging with what is there (bld and bld.mode).</summary>
    static void Put(JsonObject obj, string path, JsonNode? value)
    {
        var keys = path.Split('.');
        for (var i = 0; i < keys.Length - 1; i++)
        {
            if (obj[keys[i]] is not JsonObject next) obj[keys[i]] = next = new JsonObject();
            obj = next;
        }
        if (obj[keys[^1]] is JsonObject existing && value is JsonObject more)
            foreach (var (k, v) in more.ToList())
            {
                more.Remove(k);
                Put(existing, k, v);
            }
        else if (obj.ContainsKey(keys[^1])) throw new InvalidOperationException($"two fields of a job record are both at '{path}'");
        else obj[keys[^1]] = value;
    }

    /// <summary>A spec record by its YAML keys (flattened records included), less its [NotInKey] fields.</summary>
    static JsonObject SpecRecord(object record)
    {
        var obj = new JsonObject();
        foreach (var field in SpecField.Of(record.GetType()).Where(f => f.Property.GetCustomAttribute<NotInKeyAttribute>() is null))
            obj[field.Name] = Value(field.Get(record));
        return obj;
    }

    static JsonNode? Value(object? value) => value switch
    {
        null => null,
        JsonNode node => node.DeepClone(),
        string or bool or int or long or double or Enum => SpecJson.ToNode(value),
        _ when SpecField.IsRecord(value.GetType()) => SpecRecord(value),
        IDictionary map => new JsonObject(map.Keys.Cast<object>().Select(k => KeyValuePair.Create(k.ToString()!, Value(map[k])))),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(Value).ToArray()),
        _ when value.GetType().GetCustomAttribute<JobRecordAttribute>() is not null || IsRecord(value.GetType()) => Record(value),
        _ => JsonSerializer.SerializeToNode(value, value.GetType(), PuzzleJson.Options),
    };
}

/// <summary>Where in the spec a job record's property comes from (<c>data.seq_len</c>, <c>gkd</c>): its place in the key's JSON.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SpecPathAttribute(string path) : Attribute
{
    public string Path { get; } = path;
}

/// <summary>A property of a job record that stays out of its key; the reason says why it cannot change the result
/// (where a file lies, how often resumable state is saved).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class NotInKeyAttribute(string reason) : Attribute
{
    public string Reason { get; } = reason;
}

/// <summary>A property of a job record added after its stage's keys were in use: left out of the key while it is null
/// (the default), so the keys of the specs that do not set it stay as they were.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class KeyedWhenSetAttribute : Attribute;

/// <summary>A record nested in a job's config that is written field by field, as the job record itself is (so its own
/// [NotInKey] properties stay out).</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class JobRecordAttribute : Attribute;
