namespace Puzzle.Engine.Search;

/// <summary>
/// Explains why no architecture meets the limits. For each limit: the lowest total its resource reaches with no
/// other limit (a per-layer minimum); if that already exceeds the limit, the limit cannot be met even alone.
/// Otherwise the lowest total under the other limits (a MIP: min Σ resource s.t. the others); if that exceeds the
/// limit, this limit conflicts with the others. A limit whose others are infeasible among themselves is not blamed.
/// </summary>
internal static class Infeasibility
{
    public static SearchInfeasibleException Explain(SearchProblem p, TimeSpan? timeLimit)
    {
        var unmet = new List<(ResourceLimit Limit, UnmetLimit Unmet)>();
        var alone = new List<UnmetLimit>();
        foreach (var limit in p.Limits)
        {
            var best = LowestAlone(p, limit.Resource);
            var entry = new UnmetLimit(limit.Label, limit.Resource, limit.Max, best, true);
            alone.Add(entry);
            if (best > IntegerScaling.Allowed(p, limit)) { unmet.Add((limit, entry)); continue; }

            var model = new MipModel(p);
            foreach (var other in p.Limits.Where(o => !ReferenceEquals(o, limit))) model.ResourceWithinLimit(other);
            model.MinimiseResource(limit);
            var result = model.Solve(timeLimit);
            if (result.Selection is null) continue;
            var under = result.Selection.Total(p, limit.Resource);
            if (under > IntegerScaling.Allowed(p, limit)) unmet.Add((limit, entry with { BestReachable = under, EvenAlone = false }));
        }
        if (unmet.Count > 0)
            return new SearchInfeasibleException(string.Join("\n", unmet.Select(u => u.Unmet.Describe(u.Limit))), [.. unmet.Select(u => u.Unmet)]);
        // Several independent conflicts: every limit's others are infeasible among themselves.
        return new SearchInfeasibleException(
            "no architecture meets all limits together, though each can be met on its own: " +
            string.Join("; ", alone.Select(a => $"\"{a.Label}\" ({a.Resource} best {UnmetLimit.Format(a.BestReachable)} ≤ limit {UnmetLimit.Format(a.Limit)})")),
            alone);
    }

    /// <summary>fixed_r + Σ_l min over the layer's options of cost_r.</summary>
    static double LowestAlone(SearchProblem p, string resource) =>
        p.Fixed(resource) + p.Layers.Sum(l =>
            l.Attention.Min(o => o.Cost(resource)) + (l.IsBlocks ? 0 : l.Ffn.Min(o => o.Cost(resource))));
}
