using System.Collections.ObjectModel;
using System.Globalization;
using System.Reflection;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// Binds a <see cref="YamlNode"/> tree to the spec records by reflection: snake_case keys to init-only properties,
/// strict scalar types (YAML 1.2 booleans, integers that are integers), enum spellings, [Bounds], [Pattern] and
/// [UniqueItems]. Every problem is reported and binding goes on, so one run shows all of them; a rejected value
/// leaves the field at its default and is marked in the <see cref="SourceMap"/>.
/// </summary>
internal sealed class SpecBinder(SpecErrorList errors, SourceMap map)
{
    public PipelineSpec? BindRoot(YamlNode? root)
    {
        switch (root)
        {
            case null:
                errors.Add(new(1, 1), "the spec is empty; it needs at least name, parent and data");
                return null;
            case YamlMapping mapping:
                return (PipelineSpec)BindRecord(typeof(PipelineSpec), mapping, "", mapping.Start);
            default:
                errors.Add(root.Start, $"a spec is a mapping of sections (name, parent, data, ...), found {root.Describe()}");
                return null;
        }
    }

    object BindRecord(Type type, YamlMapping node, string path, SourcePosition anchor)
    {
        var record = Activator.CreateInstance(type) ?? throw new InvalidOperationException($"cannot create {type.Name}");
        map.Register(record, node, path, anchor);
        var fields = SpecField.Of(type);
        foreach (var (key, value) in node.Entries)
        {
            var field = fields.FirstOrDefault(f => f.Name == key.Value);
            if (field is null)
            {
                errors.Add(key.Start, UnknownKey(key.Value, path, fields));
                continue;
            }
            if (TryConvert(field, field.Type, value, SourceMap.Join(path, key.Value), key.Start, isItem: false, out var converted))
                field.Set(record, converted);
            else
                map.MarkFailed(record, field.Name);
        }
        foreach (var field in fields.Where(f => node[f.Name] is null))
        {
            if (field.Required)
            {
                errors.Add(anchor, $"missing required key '{field.Name}' {Where(path)}");
                map.MarkFailed(record, field.Name);
            }
            else if (SpecField.IsRecord(field.Type) && field.Get(record) is { } child)
                RegisterDefaults(child, SourceMap.Join(path, field.Name), anchor);
        }
        return record;
    }

    /// <summary>A section the file leaves out keeps its defaults; errors about it point at the enclosing record.</summary>
    void RegisterDefaults(object record, string path, SourcePosition anchor)
    {
        map.Register(record, null, path, anchor);
        foreach (var field in SpecField.Of(record.GetType()).Where(f => SpecField.IsRecord(f.Type)))
            if (field.Get(record) is { } child) RegisterDefaults(child, SourceMap.Join(path, field.Name), anchor);
    }

    bool TryConvert(SpecField field, Type type, YamlNode node, string path, SourcePosition anchor, bool isItem, out object? value)
    {
        value = null;
        if (!isItem && field.Nullable && node is YamlScalar { IsNull: true }) return true;
        if (SpecField.IsRecord(type))
        {
            if (node is not YamlMapping mapping) return Mismatch(path, "a mapping", node);
            value = BindRecord(type, mapping, path, anchor);
            return true;
        }
        if (SpecField.ListItemType(type) is { } itemType)
        {
            if (node is not YamlSequence seq) return Mismatch(path, "a list", node);
            return TryConvertList(field, itemType, seq, path, out value);
        }
        if (node is not YamlScalar scalar) return Mismatch(path, Expected(type), node);
        if (!TryConvertScalar(type, scalar, path, out value)) return false;
        return Check(field, value, scalar, path);
    }

    bool TryConvertList(SpecField field, Type itemType, YamlSequence seq, string path, out object? value)
    {
        value = null;
        var items = Array.CreateInstance(itemType, seq.Items.Count);
        var ok = true;
        for (var i = 0; i < seq.Items.Count; i++)
        {
            var item = seq.Items[i];
            if (TryConvert(field, itemType, item, $"{path}[{i}]", item.Start, isItem: true, out var converted)) items.SetValue(converted, i);
            else ok = false;
        }
        if (!ok) return false;
        if (field.UniqueItems)
            for (var j = 1; j < items.Length; j++)
                for (var i = 0; i < j; i++)
                    if (Equals(items.GetValue(i), items.GetValue(j)))
                    {
                        errors.Add(seq.Items[j].Start, $"{path}[{j}] repeats {path}[{i}] ({Text(seq.Items[j])}); list each value once");
                        return false;
                    }
        value = Activator.CreateInstance(typeof(ReadOnlyCollection<>).MakeGenericType(itemType), items);
        return true;
    }

    bool TryConvertScalar(Type type, YamlScalar s, string path, out object? value)
    {
        value = null;
        if (type == typeof(string))
        {
            if (s.IsNull) return Mismatch(path, "a string", s);
            value = s.Value;
        }
        else if (type == typeof(bool))
        {
            if (s.AsBool is not { } b) return Mismatch(path, "true or false", s, s.Plain && !s.IsNull ? " (YAML 1.2 booleans are only true and false)" : "");
            value = b;
        }
        else if (type == typeof(int) || type == typeof(long))
        {
            var (min, max) = type == typeof(int) ? ((long)int.MinValue, (long)int.MaxValue) : (long.MinValue, long.MaxValue);
            // an integer beyond long's range is still an integer: out of range, not "expected an integer, found the integer"
            var l = s.AsInteger;
            if (l is null && !s.IsIntegerText) return Mismatch(path, "an integer", s);
            if (l is null || l < min || l > max)
            {
                var below = s.Value.TrimStart().StartsWith('-');
                errors.Add(s.Start, $"{path} must be {(below ? $"at least {min}" : $"at most {max}")} (found {s.Value})");
                return false;
            }
            value = type == typeof(int) ? (object)(int)l.Value : l.Value;
        }
        else if (type == typeof(double))
        {
            if (s.AsNumber is not { } d) return Mismatch(path, "a number", s);
            value = d;
        }
        else if (type.IsEnum)
        {
            var names = SpecNames.Values(type);
            var match = names.FirstOrDefault(n => SpecNames.Accepted(n.Name).Contains(s.Value));
            if (match.Value is null)
            {
                var suggestion = Spelling.Suggest(s.Value, names.Select(n => n.Name));
                errors.Add(s.Start, $"{path}: expected one of {string.Join(", ", names.SelectMany(n => SpecNames.Accepted(n.Name)))}; found {s.Describe()}"
                    + (suggestion is null ? "" : $"; did you mean '{suggestion}'?"));
                return false;
            }
            value = match.Value;
        }
        else throw new InvalidOperationException($"{path}: spec fields of type {type.Name} are not supported");
        return true;
    }

    /// <summary>[Bounds] and [Pattern] on a converted scalar.</summary>
    bool Check(SpecField field, object? value, YamlScalar s, string path)
    {
        if (field.Bounds is { } bounds && value is int or long or double)
        {
            var violation = bounds.Violation(Convert.ToDouble(value, CultureInfo.InvariantCulture));
            if (violation is not null)
            {
                errors.Add(s.Start, $"{path} {violation} (found {s.Value})");
                return false;
            }
        }
        if (field.Pattern is { } pattern && value is string text && !pattern.IsMatch(text))
        {
            errors.Add(s.Start, $"{path} '{text}' is not valid: expected {pattern.Hint}");
            return false;
        }
        return true;
    }

    bool Mismatch(string path, string expected, YamlNode found, string hint = "")
    {
        errors.Add(found.Start, $"{path}: expected {expected}, found {found.Describe()}{hint}");
        return false;
    }

    static string Expected(Type type) =>
        type == typeof(string) ? "a string"
        : type == typeof(bool) ? "true or false"
        : type == typeof(int) || type == typeof(long) ? "an integer"
        : type == typeof(double) ? "a number"
        : type.IsEnum ? "one of " + string.Join(", ", SpecNames.Values(type).Select(n => n.Name))
        : type.Name;

    static string Text(YamlNode node) => node is YamlScalar s ? s.Value : node.Describe();

    static string Where(string path) => path.Length == 0 ? "at the top level" : $"in {path}";

    static string UnknownKey(string key, string path, IReadOnlyList<SpecField> fields)
    {
        var names = fields.Select(f => f.Name).ToList();
        foreach (var f in fields)
            if (f.Property.GetCustomAttributes<ReplacesAttribute>().FirstOrDefault(r => r.OldKey == key) is { } replaced)
                return $"key '{key}' {Where(path)} was replaced by '{f.Name}': {replaced.Why}";
        var suggestion = Spelling.Suggest(key, names);
        return $"unknown key '{key}' {Where(path)}; "
            + (suggestion is not null ? $"did you mean '{suggestion}'?" : $"allowed keys: {string.Join(", ", names)}");
    }
}
