using System.ComponentModel;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>
/// One YAML key of a spec record: its property, snake_case name, and the facts the binder, the slicer and the
/// schema generator all read from the same attributes.
/// </summary>
internal sealed class SpecField
{
    static readonly NullabilityInfoContext Nullability = new();

    SpecField(PropertyInfo property, PropertyInfo? owner = null)
    {
        Property = property;
        _owner = owner;
        Name = SpecNames.Snake(property.Name);
        Description = property.GetCustomAttribute<DescriptionAttribute>()?.Description
            ?? throw new InvalidOperationException($"{property.DeclaringType?.Name}.{property.Name} has no [Description]");
        // an override's field obeys the rules of the space field it stands for (SpaceOverride)
        var rules = SpaceOverrides.Mirrored(property) ?? property;
        Bounds = rules.GetCustomAttribute<BoundsAttribute>();
        Pattern = rules.GetCustomAttribute<PatternAttribute>();
        UniqueItems = rules.GetCustomAttribute<UniqueItemsAttribute>() is not null;
        Required = property.GetCustomAttribute<RequiredMemberAttribute>() is not null;
        var underlying = System.Nullable.GetUnderlyingType(property.PropertyType);
        Nullable = underlying is not null || Nullability.Create(property).WriteState == NullabilityState.Nullable;
        Type = underlying ?? property.PropertyType;
        ItemType = ListItemType(Type);
    }

    public PropertyInfo Property { get; }
    public string Name { get; }
    public string Description { get; }
    public BoundsAttribute? Bounds { get; }
    public PatternAttribute? Pattern { get; }
    public bool UniqueItems { get; }
    public bool Required { get; }
    /// <summary>Whether the field may be null (absent means "not set", not a default).</summary>
    public bool Nullable { get; }
    /// <summary>The field's type without Nullable&lt;&gt;.</summary>
    public Type Type { get; }
    /// <summary>For an IReadOnlyList&lt;T&gt; field, T.</summary>
    public Type? ItemType { get; }

    /// <summary>For a field of a <see cref="FlattenAttribute"/> record, the enclosing record's property that holds it.</summary>
    readonly PropertyInfo? _owner;

    public object? Get(object record) => Property.GetValue(Target(record));
    public void Set(object record, object? value) => Property.SetValue(Target(record), value);

    object Target(object record) => _owner is null ? record
        : _owner.GetValue(record) ?? throw new InvalidOperationException($"{_owner.DeclaringType?.Name}.{_owner.Name} is null");

    static readonly Dictionary<Type, IReadOnlyList<SpecField>> Cache = new();

    /// <summary>The YAML keys of <paramref name="recordType"/>, in declaration order.</summary>
    public static IReadOnlyList<SpecField> Of(Type recordType)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(recordType, out var fields)) return fields;
            fields = recordType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.SetMethod is not null && p.GetCustomAttribute<NotInYamlAttribute>() is null)
                .OrderBy(p => p.MetadataToken)
                .SelectMany(p => p.GetCustomAttribute<FlattenAttribute>() is null ? [new SpecField(p)]
                    : Of(p.PropertyType).Select(inner => new SpecField(inner.Property, p)))
                .ToList();
            Cache[recordType] = fields;
            return fields;
        }
    }

    /// <summary>Whether <paramref name="type"/> is a spec record (a mapping in YAML).</summary>
    public static bool IsRecord(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace == typeof(PipelineSpec).Namespace;

    public static Type? ListItemType(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? type.GetGenericArguments()[0] : null;
}
