namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>A YAML sequence.</summary>
internal sealed record YamlSequence(SourcePosition Start, IReadOnlyList<YamlNode> Items) : YamlNode(Start)
{
    public override string Describe() => "a list";
}
