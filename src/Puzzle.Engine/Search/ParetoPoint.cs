namespace Puzzle.Engine.Search;

/// <summary>One target of a sweep and the best architecture meeting it (null when none does).</summary>
public sealed record ParetoPoint(double Target, Architecture? Architecture);
