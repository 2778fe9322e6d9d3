namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>One problem in a spec file, at a 1-based line and column.</summary>
public sealed record SpecError(string File, int Line, int Column, string Message)
{
    /// <summary>The compiler-style line editors and CI annotate: <c>FILE:LINE:COLUMN: error: MESSAGE</c>.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: error: {Message}";
}
