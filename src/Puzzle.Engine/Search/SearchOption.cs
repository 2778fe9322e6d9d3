namespace Puzzle.Engine.Search;

/// <summary>
/// One candidate for one slot of one layer: an attention subblock, an FFN subblock, or a whole block.
/// </summary>
/// <param name="Id">Names the option within its slot (unique among the slot's options).</param>
/// <param name="Score">Predicted quality loss, lower is better (e.g. replace-1-block KL divergence; the parent's own
/// subblock scores 0). An architecture's score is the sum of its options' scores.</param>
/// <param name="Costs">Resource name → amount this option adds (e.g. "time_s", "memory_bytes"); a missing resource
/// costs 0.</param>
/// <param name="Parameters">Parameters this option holds (for the maximise-parameters baseline and reports).</param>
public sealed record SearchOption(string Id, double Score, IReadOnlyDictionary<string, double> Costs, long Parameters)
{
    /// <summary>What this option adds to <paramref name="resource"/> (0 when it does not list it).</summary>
    public double Cost(string resource) => Costs.TryGetValue(resource, out var c) ? c : 0;
}
