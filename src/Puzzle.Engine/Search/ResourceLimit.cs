namespace Puzzle.Engine.Search;

/// <summary>
/// A linear upper bound: fixed cost plus the chosen options' costs of <see cref="Resource"/> must not exceed
/// <see cref="Max"/> (up to a relative 1e-9 that absorbs floating-point rounding). The caller turns throughput, latency
/// and memory targets into such bounds.
/// </summary>
/// <param name="Resource">The resource summed (a key of <see cref="SearchOption.Costs"/>).</param>
/// <param name="Max">The largest allowed total, fixed costs included.</param>
/// <param name="Label">The target as a person reads it, e.g. "throughput ≥ 2.0× parent".</param>
public sealed record ResourceLimit(string Resource, double Max, string Label)
{
    /// <summary>
    /// Optional: turns a total of <see cref="Resource"/> into the target's own measure for messages, e.g.
    /// time_s 0.0415 → "2.41× parent". Without it messages quote the resource total.
    /// </summary>
    public Func<double, string>? Describe { get; init; }
}
