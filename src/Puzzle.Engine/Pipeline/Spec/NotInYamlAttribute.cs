namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>A property the loader fills in itself (where the spec came from); it is no key in the YAML.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class NotInYamlAttribute : Attribute;
