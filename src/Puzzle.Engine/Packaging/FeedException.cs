namespace Puzzle.Engine.Packaging;

/// <summary>A feed refused a package, or already holds a different package under the same id and version.</summary>
public sealed class FeedException(string message, Exception? inner = null) : Exception(message, inner);
