using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption;

namespace Puzzle.Engine.Tests.Search;

/// <summary>The baselines a child is compared with: uniform pruning, ShortGPT and a random architecture, all under the search's limits.</summary>
public class PuzzleBaselineTests
{
    /// <summary>Layers with attention kv4 (parent) / kv1 / no_op and FFN ratio1 (parent) / ratio0.5 / no_op, named as the catalog names them.</summary>
    static SearchProblem Problem(double timeLimit, int layers = 4)
    {
        static SearchOption O(int l, string name, double time, double score, long parameters) =>
            new($"layer{l}.{name}", score, new Dictionary<string, double> { ["time_s"] = time }, parameters);
        var list = Enumerable.Range(0, layers).Select(l => new SearchLayer(l,
            [O(l, "attention.kv4", 4, 0, 400), O(l, "attention.kv1", 3, 0.1 + 0.01 * l, 250), O(l, "attention.no_op", 0, 1, 0)],
            [O(l, "ffn.ratio1", 6, 0, 600), O(l, "ffn.ratio0.5", 3, 0.2, 300), O(l, "ffn.no_op", 0, 2, 0)])).ToList();
        return new SearchProblem(list, new Dictionary<string, double> { ["time_s"] = 2 }, [new ResourceLimit("time_s", timeLimit, "time")]);
    }

    static readonly string[] ParentIds = [.. Enumerable.Range(0, 8).SelectMany(l => new[] { $"layer{l}.attention.kv4", $"layer{l}.ffn.ratio1" })];

    [Fact]
    public void Uniform_uses_one_variant_everywhere_and_the_fullest_one_that_fits()
    {
        var p = Problem(timeLimit: 2 + 4 * 7.5); // parent is 2 + 4·10 = 42
        var u = Baselines.Uniform(p)!;
        Assert.True(u.Meets(p));
        Assert.Single(u.Layers.Select(l => Baselines.NameOf(l.Attention)).Distinct());
        Assert.Single(u.Layers.Select(l => Baselines.NameOf(l.Ffn)).Distinct());
        // per layer: kv4 + ratio0.5 costs 7, kv1 + ratio0.5 or no-op + ratio1 6, kv1 + ratio1 9 (too much): 7 is the fullest that fits
        Assert.Equal(("attention.kv4", "ffn.ratio0.5"), (Baselines.NameOf(u.Layers[0].Attention), Baselines.NameOf(u.Layers[0].Ffn)));
        Assert.Equal(2 + 4 * 7, u.Cost("time_s"), 9);
        Assert.Null(Baselines.Uniform(Problem(timeLimit: 1))); // below the fixed cost: nothing fits
    }

    [Fact]
    public void ShortGpt_drops_whole_layers_lowest_block_influence_first_until_the_limit_holds()
    {
        var p = Problem(timeLimit: 2 + 2 * 10); // room for two parent layers
        var s = Baselines.ShortGpt(p, [0.5, 0.1, 0.3, 0.9], ParentIds)!;
        Assert.True(s.Meets(p));
        var dropped = s.Layers.Where(l => l.Attention.EndsWith("no_op") && l.Ffn.EndsWith("no_op")).Select(l => l.Layer).ToList();
        Assert.Equal([1, 2], dropped);
        Assert.All(s.Layers.Where(l => !dropped.Contains(l.Layer)), l => Assert.Contains(l.Attention, ParentIds));
        Assert.Throws<ArgumentException>(() => Baselines.ShortGpt(p, [0.1, 0.2], ParentIds));
    }

    [Fact]
    public void Random_meets_the_limits_spends_the_budget_and_depends_only_on_its_seed()
    {
        var p = Problem(timeLimit: 2 + 4 * 6);
        var a = Baselines.Random(p, seed: 1)!;
        Assert.True(a.Meets(p));
        Assert.Equal(a.Layers, Baselines.Random(p, seed: 1)!.Layers);
        Assert.True(a.Cost("time_s") >= 0.8 * (2 + 4 * 6), $"random spent only {a.Cost("time_s")} of {2 + 4 * 6}");
        var seen = Enumerable.Range(0, 8).Select(seed => string.Join(",", Baselines.Random(p, seed)!.Layers.Select(l => l.Attention + l.Ffn))).Distinct().Count();
        Assert.True(seen > 1, "every seed gave the same architecture");
        Assert.Null(Baselines.Random(Problem(timeLimit: 1), seed: 0));
    }
}
