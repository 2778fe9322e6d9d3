namespace Puzzle.Engine.Search;

/// <summary>
/// The paper's greedy baseline, as we read it: start from each slot's lowest-score option (the parent), then
/// repeatedly make the single swap (one layer's attention, FFN or block replaced by another option) with the best
/// ratio of limit violation removed to score added, until every limit holds. Violation is Σ over limits of
/// max(0, total − max) / magnitude (the limit's headroom or largest option cost, so resources of different units
/// weigh alike). A swap that removes violation without adding score is taken first (largest removal wins); ties go
/// to the earliest layer and option. Returns null when no swap reduces the violation any more (stuck, or infeasible).
/// </summary>
internal static class GreedySearch
{
    public static Selection? Run(SearchProblem p)
    {
        var s = Selection.BestScorePerSlot(p);
        var scales = p.Limits.Select(l => 1 / IntegerScaling.Magnitude(p, l)).ToArray();
        var allowed = p.Limits.Select(l => IntegerScaling.Allowed(p, l)).ToArray();
        var totals = p.Limits.Select(l => s.Total(p, l.Resource)).ToArray();
        var violation = Violation(totals, allowed, scales);
        while (violation > 0)
        {
            Swap? best = null;
            for (var l = 0; l < p.Layers.Count; l++)
            {
                best = Better(best, BestSwap(p, l, true, p.Layers[l].Attention, s.Attention[l], totals, allowed, scales, violation));
                if (!p.Layers[l].IsBlocks)
                    best = Better(best, BestSwap(p, l, false, p.Layers[l].Ffn, s.Ffn[l], totals, allowed, scales, violation));
            }
            if (best is null) return null;
            (best.Attention ? s.Attention : s.Ffn)[best.Layer] = best.Option;
            totals = p.Limits.Select(l => s.Total(p, l.Resource)).ToArray();
            violation = Violation(totals, allowed, scales);
        }
        return s;
    }

    /// <summary>A candidate swap: violation removed and score added.</summary>
    sealed record Swap(int Layer, bool Attention, int Option, double Removed, double Added)
    {
        public double Ratio => Added <= 0 ? double.PositiveInfinity : Removed / Added;
    }

    static Swap? BestSwap(SearchProblem p, int layer, bool attention, IReadOnlyList<SearchOption> options, int current,
        double[] totals, double[] allowed, double[] scales, double violation)
    {
        Swap? best = null;
        var now = options[current];
        for (var o = 0; o < options.Count; o++)
        {
            if (o == current) continue;
            var after = totals.Select((t, i) => t - now.Cost(p.Limits[i].Resource) + options[o].Cost(p.Limits[i].Resource)).ToArray();
            var removed = violation - Violation(after, allowed, scales);
            if (removed <= 1e-12 * violation) continue;
            best = Better(best, new Swap(layer, attention, o, removed, options[o].Score - now.Score));
        }
        return best;
    }

    static Swap? Better(Swap? a, Swap? b)
    {
        if (a is null) return b;
        if (b is null) return a;
        if (b.Ratio > a.Ratio) return b;
        if (b.Ratio == a.Ratio && double.IsPositiveInfinity(b.Ratio) && b.Removed > a.Removed) return b;
        return a;
    }

    static double Violation(double[] totals, double[] allowed, double[] scales)
    {
        double v = 0;
        for (var i = 0; i < totals.Length; i++)
            if (totals[i] > allowed[i]) v += (totals[i] - allowed[i]) * scales[i];
        return v;
    }
}
