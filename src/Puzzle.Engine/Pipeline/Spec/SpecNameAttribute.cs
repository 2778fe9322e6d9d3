namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The YAML spelling of an enum value when snake_case of its C# name is not it ("shortgpt").</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class SpecNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
