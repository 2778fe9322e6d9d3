namespace Puzzle.Engine.Packaging;

/// <summary>A model package that is not what its provenance manifest says: a file missing, changed or added, or no manifest.</summary>
public sealed class PackageIntegrityException(string message, Exception? inner = null) : Exception(message, inner);
