using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Spec.Internal;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The parts of a spec a stage depends on, as canonical JSON: what its cache key hashes. The same spec always gives
/// byte-identical <c>ToJsonString()</c> (defaults filled in, keys sorted, numbers canonical), and a change to one
/// field changes only the slices that include it.
/// </summary>
public static class SpecSlice
{
    /// <summary>
    /// A JSON object with exactly the fields named by <paramref name="paths"/> (dotted snake_case, e.g.
    /// <c>data.seq_len</c>, <c>parent.pretrain</c>, <c>bld</c>), nested as in the spec.
    /// </summary>
    /// <exception cref="ArgumentException">A path names no field.</exception>
    public static JsonObject Of(PipelineSpec spec, params string[] paths)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var result = new JsonObject();
        foreach (var path in paths.Distinct().OrderBy(p => p, StringComparer.Ordinal))
        {
            var (keys, value) = Find(spec, path);
            var target = result;
            for (var i = 0; i < keys.Count - 1; i++)
            {
                if (target[keys[i]] is not JsonObject next) target[keys[i]] = next = new JsonObject();
                target = next;
            }
            target[keys[^1]] = SpecJson.ToNode(value);
        }
        return Sort(result);
    }

    /// <summary>The dotted paths where <paramref name="now"/> differs from <paramref name="old"/> ("bld.lr", "data.npm[1].files").</summary>
    public static IReadOnlyList<string> Diff(JsonObject old, JsonObject now)
    {
        var changes = new List<string>();
        Compare(old, now, "", changes);
        return changes;
    }

    static (IReadOnlyList<string> Keys, object? Value) Find(PipelineSpec spec, string path)
    {
        var keys = path.Split('.');
        object? current = spec;
        foreach (var key in keys)
        {
            IReadOnlyList<SpecField> fields = current is null ? [] : SpecField.Of(current.GetType());
            var field = fields.FirstOrDefault(f => f.Name == key);
            if (field is null)
            {
                var suggestion = SpecNames.Suggest(key, fields.Select(f => f.Name));
                throw new ArgumentException($"spec slice '{path}': no field '{key}'"
                    + (current is null ? " (the section above it is not set)" : suggestion is null ? "" : $"; did you mean '{suggestion}'?"), nameof(path));
            }
            current = field.Get(current!);
        }
        return (keys, current);
    }

    static JsonObject Sort(JsonObject obj)
    {
        var sorted = new JsonObject();
        foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
        {
            obj.Remove(key);
            sorted[key] = value is JsonObject child ? Sort(child) : value;
        }
        return sorted;
    }

    static void Compare(JsonNode? a, JsonNode? b, string path, List<string> changes)
    {
        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Select(p => p.Key).Union(ob.Select(p => p.Key)).OrderBy(k => k, StringComparer.Ordinal))
            {
                var child = path.Length == 0 ? key : $"{path}.{key}";
                if (!oa.ContainsKey(key) || !ob.ContainsKey(key)) changes.Add(child);
                else Compare(oa[key], ob[key], child, changes);
            }
        }
        else if (a is JsonArray xa && b is JsonArray xb && xa.Count == xb.Count)
        {
            for (var i = 0; i < xa.Count; i++) Compare(xa[i], xb[i], $"{path}[{i}]", changes);
        }
        else if (a?.ToJsonString() != b?.ToJsonString())
        {
            changes.Add(path);
        }
    }
}
