namespace Puzzle.Engine.Export;

/// <summary>The floating-point type of the exported weights.</summary>
public enum ExportDType
{
    Float32,
    Bfloat16,
    Float16,
}
