namespace Puzzle.Engine.Packaging;

/// <summary>One file of a package as packed: its SHA-256 (lowercase hex) and size.</summary>
public sealed record ProvenanceFile(string Sha256, long Bytes);
