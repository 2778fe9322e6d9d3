namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>A YAML mapping; keys are unique (the reader reports duplicates) and keep their positions.</summary>
internal sealed record YamlMapping(SourcePosition Start, IReadOnlyList<KeyValuePair<YamlScalar, YamlNode>> Entries) : YamlNode(Start)
{
    public YamlNode? this[string key] => Entries.FirstOrDefault(e => e.Key.Value == key).Value;

    public override string Describe() => "a mapping";
}
