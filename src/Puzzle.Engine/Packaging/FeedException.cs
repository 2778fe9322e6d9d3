namespace Puzzle.Engine.Packaging;

/// <summary>A feed refused a package, or already holds a different package under the same id and version.</summary>
public sealed class FeedException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The feed has this id and version with other bytes (and overwriting was not allowed).</summary>
    public bool VersionTaken { get; init; }
}
