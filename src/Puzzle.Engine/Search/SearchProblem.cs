namespace Puzzle.Engine.Search;

/// <summary>
/// The grouped knapsack of the paper: per layer pick one attention and one FFN option (or one whole block), keep
/// every <see cref="Limits"/> entry, minimise the summed score.
/// </summary>
/// <param name="Layers">The layers, each with its options.</param>
/// <param name="FixedCosts">Costs every architecture pays whatever it picks (embeddings, LM head, overhead).</param>
/// <param name="Limits">Upper bounds on summed resources (fixed costs included).</param>
public sealed record SearchProblem(IReadOnlyList<SearchLayer> Layers, IReadOnlyDictionary<string, double> FixedCosts, IReadOnlyList<ResourceLimit> Limits)
{
    /// <summary>Parameters outside the layers (embeddings, LM head), added to every architecture's count.</summary>
    public long FixedParameters { get; init; }

    /// <summary>The fixed cost of <paramref name="resource"/> (0 when not listed).</summary>
    public double Fixed(string resource) => FixedCosts.TryGetValue(resource, out var c) ? c : 0;

    /// <summary>Every resource named anywhere: the limited ones first (in limit order), then the rest by name.</summary>
    public IReadOnlyList<string> Resources
    {
        get
        {
            var limited = Limits.Select(l => l.Resource).Distinct().ToList();
            var rest = FixedCosts.Keys
                .Concat(Layers.SelectMany(l => l.Attention.Concat(l.Ffn)).SelectMany(o => o.Costs.Keys))
                .Distinct().Except(limited).OrderBy(r => r, StringComparer.Ordinal);
            return [.. limited, .. rest];
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> when the problem is malformed (no layers, a layer without
    /// options, duplicate ids or layer numbers, a non-finite number).</summary>
    public void Validate()
    {
        if (Layers.Count == 0) throw new ArgumentException("the search problem has no layers");
        var seen = new HashSet<int>();
        foreach (var layer in Layers)
        {
            if (!seen.Add(layer.Layer)) throw new ArgumentException($"layer {layer.Layer} appears twice");
            if (layer.Attention.Count == 0)
                throw new ArgumentException($"layer {layer.Layer} has no {(layer.IsBlocks ? "block" : "attention")} options");
            ValidateOptions(layer.Layer, layer.IsBlocks ? "block" : "attention", layer.Attention);
            ValidateOptions(layer.Layer, "ffn", layer.Ffn);
        }
        foreach (var (resource, value) in FixedCosts)
            if (!double.IsFinite(value)) throw new ArgumentException($"fixed cost {resource} is {value}");
        foreach (var limit in Limits)
        {
            if (string.IsNullOrEmpty(limit.Resource)) throw new ArgumentException($"limit \"{limit.Label}\" names no resource");
            if (double.IsNaN(limit.Max) || double.IsNegativeInfinity(limit.Max))
                throw new ArgumentException($"limit \"{limit.Label}\" has maximum {limit.Max}");
        }
    }

    static void ValidateOptions(int layer, string slot, IReadOnlyList<SearchOption> options)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in options)
        {
            if (string.IsNullOrEmpty(o.Id)) throw new ArgumentException($"layer {layer}: a {slot} option has no id");
            if (!ids.Add(o.Id)) throw new ArgumentException($"layer {layer}: {slot} option \"{o.Id}\" appears twice");
            if (!double.IsFinite(o.Score)) throw new ArgumentException($"layer {layer}: {slot} option \"{o.Id}\" has score {o.Score}");
            foreach (var (resource, value) in o.Costs)
                if (!double.IsFinite(value))
                    throw new ArgumentException($"layer {layer}: {slot} option \"{o.Id}\" has {resource} {value}");
        }
    }
}
