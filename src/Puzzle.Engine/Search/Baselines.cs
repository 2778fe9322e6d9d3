namespace Puzzle.Engine.Search;

/// <summary>
/// The simple compressions a Puzzle child must beat, chosen under the same limits as the search (so at the same
/// predicted cost) from the same options: the same variant in every layer, ShortGPT's layer dropping, and a random
/// architecture. None of them looks at the options' scores.
/// </summary>
public static class Baselines
{
    /// <summary>
    /// Uniform pruning: the same variant (same name, e.g. <c>attention.kv2</c> with <c>ffn.ratio0.5</c>) in every
    /// layer. Of the uniform architectures that meet the limits, the one that uses most of the budget (the largest
    /// summed cost of the first limited resource, then the most parameters), so it is as close to the child's cost as
    /// uniform allows. Null when no uniform architecture meets the limits.
    /// </summary>
    public static Architecture? Uniform(SearchProblem problem)
    {
        problem.Validate();
        var attentionNames = Common(problem.Layers.Select(l => l.Attention));
        var ffnNames = problem.Layers[0].IsBlocks ? [""] : Common(problem.Layers.Select(l => l.Ffn));
        Selection? best = null;
        foreach (var a in attentionNames)
            foreach (var f in ffnNames)
            {
                var s = new Selection(
                    [.. problem.Layers.Select(l => IndexOf(l.Attention, a))],
                    [.. problem.Layers.Select(l => l.IsBlocks ? -1 : IndexOf(l.Ffn, f))]);
                if (!s.ToArchitecture(problem, false).Meets(problem)) continue;
                if (best is null || Fuller(problem, s, best)) best = s;
            }
        return best?.ToArchitecture(problem, false);
    }

    /// <summary>
    /// ShortGPT (Men et al., 2024): remove whole layers, lowest block influence first, until the limits hold. A layer
    /// is removed by choosing its no-op attention and no-op FFN. Null when the options have no no-ops or dropping every
    /// layer still does not meet the limits.
    /// </summary>
    /// <param name="blockInfluence">per layer, 1 − cos(layer input, layer output) on the parent's held-out activations</param>
    public static Architecture? ShortGpt(SearchProblem problem, IReadOnlyList<double> blockInfluence, IReadOnlyCollection<string> parentIds)
    {
        problem.Validate();
        if (blockInfluence.Count != problem.Layers.Count)
            throw new ArgumentException($"block influence has {blockInfluence.Count} layers, the problem {problem.Layers.Count}");
        var keep = new Selection(
            [.. problem.Layers.Select(l => ParentIndex(l.Attention, parentIds, l.Layer))],
            [.. problem.Layers.Select(l => l.IsBlocks ? -1 : ParentIndex(l.Ffn, parentIds, l.Layer))]);
        var drops = problem.Layers.Select(l => (Attention: l.IsBlocks ? IndexOf(l.Attention, "block.no_op+no_op") : IndexOf(l.Attention, "attention.no_op"),
            Ffn: l.IsBlocks ? -1 : IndexOf(l.Ffn, "ffn.no_op"))).ToList();
        if (drops.Any(d => d.Attention < 0 || (d.Ffn < 0 && !problem.Layers[0].IsBlocks))) return null;
        foreach (var l in Enumerable.Range(0, problem.Layers.Count).OrderBy(l => blockInfluence[l]).ThenBy(l => l))
        {
            if (keep.ToArchitecture(problem, false).Meets(problem)) break;
            keep.Attention[l] = drops[l].Attention;
            keep.Ffn[l] = drops[l].Ffn;
        }
        var found = keep.ToArchitecture(problem, false);
        return found.Meets(problem) ? found : null;
    }

    /// <summary>
    /// A random architecture from the same options that meets the limits and uses most of the budget: each slot
    /// starts at a random option; while a limit is broken a random slot moves to a random cheaper option; then random
    /// moves that keep every limit and spend more of the budget are taken. Seeded: the same seed gives the same
    /// architecture. Null when even the cheapest options break a limit.
    /// </summary>
    public static Architecture? Random(SearchProblem problem, long seed, int moves = 2000)
    {
        problem.Validate();
        var rng = new System.Random(unchecked((int)seed ^ (int)(seed >> 32)));
        var n = problem.Layers.Count;
        var s = new Selection(
            [.. problem.Layers.Select(l => rng.Next(l.Attention.Count))],
            [.. problem.Layers.Select(l => l.IsBlocks ? -1 : rng.Next(l.Ffn.Count))]);
        var slots = Enumerable.Range(0, n).SelectMany(l => problem.Layers[l].IsBlocks ? [(l, true)] : new[] { (l, true), (l, false) }).ToList();
        IReadOnlyList<SearchOption> Options((int Layer, bool Attention) slot) =>
            slot.Attention ? problem.Layers[slot.Layer].Attention : problem.Layers[slot.Layer].Ffn;
        ref int Choice((int Layer, bool Attention) slot) => ref (slot.Attention ? ref s.Attention[slot.Layer] : ref s.Ffn[slot.Layer]);

        for (var guard = 0; guard < 100 * slots.Count && Broken(problem, s) is { } limit; guard++)
        {
            var slot = slots[rng.Next(slots.Count)];
            var options = Options(slot);
            var now = options[Choice(slot)].Cost(limit.Resource);
            var cheaper = Enumerable.Range(0, options.Count).Where(i => options[i].Cost(limit.Resource) < now).ToList();
            if (cheaper.Count > 0) Choice(slot) = cheaper[rng.Next(cheaper.Count)];
        }
        if (Broken(problem, s) is not null)
        {
            // cheapest everywhere in the resource of each limit still broken: the limits cannot be met at all
            foreach (var slot in slots)
            {
                var options = Options(slot);
                Choice(slot) = Enumerable.Range(0, options.Count).MinBy(i => problem.Limits.Sum(l => options[i].Cost(l.Resource) / Math.Max(1e-30, Math.Abs(l.Max))));
            }
            if (Broken(problem, s) is not null) return null;
        }
        for (var m = 0; m < moves; m++)
        {
            var slot = slots[rng.Next(slots.Count)];
            var options = Options(slot);
            var before = Choice(slot);
            var candidate = rng.Next(options.Count);
            if (candidate == before) continue;
            var old = Budget(problem, s);
            Choice(slot) = candidate;
            if (Broken(problem, s) is not null || Budget(problem, s) <= old) Choice(slot) = before;
        }
        return s.ToArchitecture(problem, false);
    }

    static ResourceLimit? Broken(SearchProblem p, Selection s)
    {
        var a = s.ToArchitecture(p, false);
        return p.Limits.FirstOrDefault(l => a.Cost(l.Resource) > IntegerScaling.Allowed(p, l));
    }

    /// <summary>How much of the budget a selection spends: its total of the first limited resource, as a fraction.</summary>
    static double Budget(SearchProblem p, Selection s) => p.Limits.Count == 0 ? s.Options(p).Sum(o => o.Parameters)
        : p.Limits.Sum(l => s.Total(p, l.Resource) / Math.Max(1e-30, Math.Abs(l.Max)));

    static bool Fuller(SearchProblem p, Selection a, Selection b)
    {
        var (x, y) = (Budget(p, a), Budget(p, b));
        if (Math.Abs(x - y) > 1e-12 * Math.Max(Math.Abs(x), Math.Abs(y))) return x > y;
        return a.Options(p).Sum(o => o.Parameters) > b.Options(p).Sum(o => o.Parameters);
    }

    /// <summary>An option's id without its <c>layerN.</c> prefix.</summary>
    public static string NameOf(string id) => id.IndexOf('.') is var dot and >= 0 ? id[(dot + 1)..] : id;

    static IReadOnlyList<string> Common(IEnumerable<IReadOnlyList<SearchOption>> layers)
    {
        var sets = layers.Select(options => options.Select(o => NameOf(o.Id)).ToList()).ToList();
        return sets[0].Where(name => sets.All(s => s.Contains(name))).ToList();
    }

    static int IndexOf(IReadOnlyList<SearchOption> options, string name)
    {
        for (var i = 0; i < options.Count; i++)
            if (NameOf(options[i].Id) == name) return i;
        return -1;
    }

    static int ParentIndex(IReadOnlyList<SearchOption> options, IReadOnlyCollection<string> parentIds, int layer)
    {
        for (var i = 0; i < options.Count; i++)
            if (parentIds.Contains(options[i].Id)) return i;
        throw new ArgumentException($"layer {layer} has no parent option among {string.Join(", ", options.Select(o => o.Id))}");
    }
}
