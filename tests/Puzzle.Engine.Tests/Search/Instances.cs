using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption; // System.IO has one too

namespace Puzzle.Engine.Tests.Search;

/// <summary>Seeded random search problems and an exhaustive solver to check the search against.</summary>
static class Instances
{
    public static readonly string[] Resources = ["time_s", "memory_bytes"];

    /// <summary>Layers with a parent option (score 0, the largest costs) and cheaper, worse options; limits at
    /// <paramref name="fraction"/> (or a random 55–90%) of the parent's totals.</summary>
    public static SearchProblem Random(int seed, int layers = 4, int attention = 3, int ffn = 3, double? fraction = null, int blockLayers = 0)
    {
        var rng = new Random(seed);
        var list = new List<SearchLayer>();
        for (var l = 0; l < layers; l++)
            list.Add(l < blockLayers
                ? SearchLayer.OfBlocks(l, Options(rng, "block", attention * ffn))
                : new SearchLayer(l, Options(rng, "attn", attention), Options(rng, "ffn", ffn)));
        var fixedCosts = new Dictionary<string, double> { ["time_s"] = 0.05, ["memory_bytes"] = 100 };
        var parent = new SearchProblem(list, fixedCosts, []);
        var limits = Resources.Select(r => new ResourceLimit(r,
            Parent(parent, r) * (fraction ?? 0.55 + 0.35 * rng.NextDouble()), $"{r} limit")).ToList();
        return parent with { Limits = limits };
    }

    static List<SearchOption> Options(Random rng, string name, int count) =>
        [.. Enumerable.Range(0, count).Select(i => i == 0
            ? new SearchOption($"{name}-parent", 0, new Dictionary<string, double> { ["time_s"] = 1, ["memory_bytes"] = 1000 }, 10_000)
            : new SearchOption($"{name}-{i}", rng.NextDouble(),
                new Dictionary<string, double> { ["time_s"] = rng.NextDouble(), ["memory_bytes"] = 1000 * rng.NextDouble() },
                rng.Next(0, 10_000)))];

    /// <summary>The parent architecture's total of <paramref name="resource"/> (first option everywhere).</summary>
    public static double Parent(SearchProblem p, string resource) =>
        p.Fixed(resource) + p.Layers.Sum(l => l.Attention[0].Cost(resource) + (l.IsBlocks ? 0 : l.Ffn[0].Cost(resource)));

    public sealed record Candidate(LayerChoice[] Layers, double Score, Dictionary<string, double> Costs, long Parameters)
    {
        public bool Meets(IEnumerable<ResourceLimit> limits) => limits.All(l => Costs[l.Resource] <= l.Max);
    }

    /// <summary>Every architecture of the problem, each with its score, totals and parameters.</summary>
    public static List<Candidate> All(SearchProblem p)
    {
        IEnumerable<List<(LayerChoice Choice, SearchOption[] Options)>> partial = [[]];
        foreach (var layer in p.Layers)
        {
            var choices = layer.IsBlocks
                ? layer.Attention.Select(b => (new LayerChoice(layer.Layer, b.Id, ""), new[] { b })).ToList()
                : [.. layer.Attention.SelectMany(a => layer.Ffn.Select(f => (new LayerChoice(layer.Layer, a.Id, f.Id), new[] { a, f })))];
            partial = partial.SelectMany(prefix => choices.Select(c => new List<(LayerChoice, SearchOption[])>(prefix) { c })).ToList();
        }
        return [.. partial.Select(layers =>
        {
            var options = layers.SelectMany(c => c.Options).ToList();
            return new Candidate([.. layers.Select(c => c.Choice)], options.Sum(o => o.Score),
                Resources.ToDictionary(r => r, r => p.Fixed(r) + options.Sum(o => o.Cost(r))),
                options.Sum(o => o.Parameters));
        })];
    }

    /// <summary>Blocks two architectures share, a whole block counting for two (as the diversity constraint does).</summary>
    public static int Shared(Architecture a, Architecture b) =>
        a.Layers.Zip(b.Layers).Sum(p => p.First.Ffn == ""
            ? (p.First.Attention == p.Second.Attention ? 2 : 0)
            : (p.First.Attention == p.Second.Attention ? 1 : 0) + (p.First.Ffn == p.Second.Ffn ? 1 : 0));

    public static void AssertClose(double expected, double actual, double relative = 1e-9) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)),
            $"expected {expected:R}, got {actual:R}");
}
