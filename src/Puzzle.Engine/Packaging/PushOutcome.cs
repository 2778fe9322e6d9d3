namespace Puzzle.Engine.Packaging;

/// <summary>What publishing a package did.</summary>
public enum PushOutcome
{
    /// <summary>The feed did not have this id and version; now it does.</summary>
    Pushed,
    /// <summary>The feed already had this id and version with the same bytes: nothing to do.</summary>
    AlreadyPresent,
    /// <summary>The feed had this id and version with other bytes, and overwriting was allowed.</summary>
    Replaced,
}
