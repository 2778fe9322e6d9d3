using System.Reflection;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The fields of a search space (<typeparamref name="TSpace"/>) that a <see cref="LayerOverride"/> changes in some layers.
/// An override declares a field under the space's name, nullable (null keeps the global value), with its own description;
/// the field's bounds, pattern and uniqueness are the space's (the loader and the schema read them from there), and
/// <see cref="ApplyTo"/> copies whatever the override sets. A field added to a space is one edit plus one nullable line here.
/// </summary>
public abstract record SpaceOverride<TSpace> where TSpace : class, new()
{
    /// <summary>The global space with this override's set fields in place of its own.</summary>
    public TSpace ApplyTo(TSpace global)
    {
        var result = new TSpace();
        foreach (var property in SpaceOverrides.Settable(typeof(TSpace)))
            property.SetValue(result, property.GetValue(global));
        foreach (var property in SpaceOverrides.Settable(GetType()))
            if (property.GetValue(this) is { } value)
                SpaceOverrides.Mirrored(property)!.SetValue(result, value);
        return result;
    }
}

/// <summary>How an override's fields map onto its space's.</summary>
internal static class SpaceOverrides
{
    /// <summary>The public init/set properties of a record, its equality contract aside.</summary>
    public static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true });

    /// <summary>
    /// The space's property that an override's <paramref name="property"/> stands for; null when the property's record
    /// is no override. An override field with no space field of the same name and type is a programming error.
    /// </summary>
    public static PropertyInfo? Mirrored(PropertyInfo property)
    {
        var space = SpaceOf(property.DeclaringType!);
        if (space is null) return null;
        var mirrored = space.GetProperty(property.Name, BindingFlags.Public | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"{property.DeclaringType!.Name}.{property.Name} overrides no field of {space.Name}");
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type != mirrored.PropertyType)
            throw new InvalidOperationException($"{property.DeclaringType!.Name}.{property.Name} is a {type.Name}, but {space.Name}.{property.Name} is a {mirrored.PropertyType.Name}");
        return mirrored;
    }

    static Type? SpaceOf(Type type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(SpaceOverride<>)) return t.GetGenericArguments()[0];
        return null;
    }
}
