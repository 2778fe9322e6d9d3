namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>A node of the spec's YAML with the position it starts at, so every error can point into the file.</summary>
internal abstract record YamlNode(SourcePosition Start)
{
    /// <summary>What the node is, for "expected X, found Y" messages.</summary>
    public abstract string Describe();
}
