namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// A record-valued property whose fields are keys of the enclosing section itself (no nested mapping in the YAML):
/// the binder, the schema, the slicer and the canonical JSON all see the inner fields in its place.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class FlattenAttribute : Attribute;
