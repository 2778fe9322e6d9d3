namespace Puzzle.Engine.Search;

/// <summary>How the architecture search picks one variant per layer.</summary>
public enum SearchMethod
{
    /// <summary>Mixed-integer program (grouped knapsack), as in the paper.</summary>
    Mip,
    /// <summary>Greedy by score lost per cost saved.</summary>
    Greedy,
    /// <summary>The largest child that meets the constraints, ignoring scores (a baseline).</summary>
    MaxParams,
}
