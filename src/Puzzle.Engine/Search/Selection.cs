namespace Puzzle.Engine.Search;

/// <summary>
/// An architecture as option indices: <c>Attention[l]</c> into layer l's attention (or block) options,
/// <c>Ffn[l]</c> into its FFN options (−1 for a layer of whole blocks).
/// </summary>
internal sealed record Selection(int[] Attention, int[] Ffn)
{
    /// <summary>Each slot's lowest-score option (the first on ties): the parent when the parent scores 0.</summary>
    public static Selection BestScorePerSlot(SearchProblem p) => new(
        [.. p.Layers.Select(l => ArgMin(l.Attention))],
        [.. p.Layers.Select(l => l.IsBlocks ? -1 : ArgMin(l.Ffn))]);

    static int ArgMin(IReadOnlyList<SearchOption> options)
    {
        var best = 0;
        for (var i = 1; i < options.Count; i++)
            if (options[i].Score < options[best].Score) best = i;
        return best;
    }

    /// <summary>The chosen options of layer <paramref name="l"/> (one for a block layer, two otherwise).</summary>
    public IEnumerable<SearchOption> OptionsOf(SearchProblem p, int l)
    {
        yield return p.Layers[l].Attention[Attention[l]];
        if (Ffn[l] >= 0) yield return p.Layers[l].Ffn[Ffn[l]];
    }

    public IEnumerable<SearchOption> Options(SearchProblem p) => Enumerable.Range(0, p.Layers.Count).SelectMany(l => OptionsOf(p, l));

    public double Score(SearchProblem p) => Options(p).Sum(o => o.Score);

    public double Total(SearchProblem p, string resource) => p.Fixed(resource) + Options(p).Sum(o => o.Cost(resource));

    public Architecture ToArchitecture(SearchProblem p, bool optimal) => new(
        [.. p.Layers.Select((layer, l) => new LayerChoice(layer.Layer, layer.Attention[Attention[l]].Id,
            Ffn[l] >= 0 ? layer.Ffn[Ffn[l]].Id : ""))],
        Score(p),
        p.Resources.ToDictionary(r => r, r => Total(p, r)),
        p.FixedParameters + Options(p).Sum(o => o.Parameters))
    { Optimal = optimal };
}
