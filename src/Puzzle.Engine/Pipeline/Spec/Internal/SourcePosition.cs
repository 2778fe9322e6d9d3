namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>A 1-based line and column in the spec file.</summary>
internal readonly record struct SourcePosition(int Line, int Column) : IComparable<SourcePosition>
{
    public int CompareTo(SourcePosition other) => Line != other.Line ? Line.CompareTo(other.Line) : Column.CompareTo(other.Column);

    public override string ToString() => $"{Line}:{Column}";
}
