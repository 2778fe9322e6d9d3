namespace Puzzle.Engine.Search;

/// <summary>
/// A found architecture: one choice per layer, its total score (sum of the chosen options' scores), its total costs
/// (fixed costs plus the chosen options' costs, for every resource the problem names) and its parameters (the
/// chosen options' plus <see cref="SearchProblem.FixedParameters"/>).
/// </summary>
public sealed record Architecture(IReadOnlyList<LayerChoice> Layers, double Score, IReadOnlyDictionary<string, double> Costs, long Parameters)
{
    /// <summary>The total of <paramref name="resource"/> (0 when no option or fixed cost names it).</summary>
    public double Cost(string resource) => Costs.TryGetValue(resource, out var c) ? c : 0;

    /// <summary>True when the search proved this architecture optimal for its objective (false after a time limit
    /// cut the solver short, and always false for the greedy search).</summary>
    public bool Optimal { get; init; }

    /// <summary>True when every limit of <paramref name="problem"/> holds: total ≤ max, up to a relative 1e-9 of the
    /// limit's headroom (or largest option cost) that absorbs floating-point rounding.</summary>
    public bool Meets(SearchProblem problem) => problem.Limits.All(l => Cost(l.Resource) <= IntegerScaling.Allowed(problem, l));
}
