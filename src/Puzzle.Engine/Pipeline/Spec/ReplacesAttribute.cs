namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>A key this property replaced: a spec that still uses the old key is told which key to use and why, instead
/// of only that the key is unknown.</summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true)]
public sealed class ReplacesAttribute(string oldKey, string why) : Attribute
{
    public string OldKey { get; } = oldKey;
    public string Why { get; } = why;
}
