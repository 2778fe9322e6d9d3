using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption; // System.IO has one too

namespace Puzzle.Engine.Tests.Search;

public class MipTests
{
    [Fact]
    public void Equals_brute_force_on_random_instances()
    {
        var feasible = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var p = Instances.Random(seed);
            var best = Instances.All(p).Where(c => c.Meets(p.Limits)).MinBy(c => c.Score);
            if (best is null)
            {
                Assert.Throws<SearchInfeasibleException>(() => PuzzleSearch.Solve(p, SearchMethod.Mip));
                continue;
            }
            feasible++;
            var found = Assert.Single(PuzzleSearch.Solve(p, SearchMethod.Mip));
            Instances.AssertClose(best.Score, found.Score);
            Assert.True(found.Meets(p), $"seed {seed}: the MIP's architecture breaks a limit");
            Assert.True(found.Optimal);
        }
        Assert.True(feasible >= 10, $"only {feasible} of 20 instances were feasible: the test instances are too tight");
    }

    [Fact]
    public void Equals_brute_force_with_layers_of_whole_blocks()
    {
        for (var seed = 100; seed < 105; seed++)
        {
            var p = Instances.Random(seed, layers: 4, blockLayers: 2, fraction: 0.7);
            var best = Instances.All(p).Where(c => c.Meets(p.Limits)).MinBy(c => c.Score)!;
            var found = Assert.Single(PuzzleSearch.Solve(p, SearchMethod.Mip));
            Instances.AssertClose(best.Score, found.Score);
            Assert.Equal("", found.Layers[0].Ffn);
            Assert.NotEqual("", found.Layers[3].Ffn);
            Assert.True(found.Meets(p));
        }
    }

    [Fact]
    public void Reports_totals_and_parameters_of_the_chosen_options()
    {
        var p = Instances.Random(3, fraction: 0.75) with { FixedParameters = 500 };
        var found = PuzzleSearch.Solve(p, SearchMethod.Mip)[0];
        var same = Instances.All(p).Single(c => c.Layers.SequenceEqual(found.Layers));
        Instances.AssertClose(same.Score, found.Score);
        Assert.Equal(same.Parameters + 500, found.Parameters);
        foreach (var r in Instances.Resources) Instances.AssertClose(same.Costs[r], found.Cost(r));
    }

    [Fact]
    public void A_limit_met_exactly_by_the_parent_admits_the_parent()
    {
        // Integer costs and a limit equal to the parent's total: scaling and rounding must not cut the parent off.
        var layers = Enumerable.Range(0, 7).Select(l => new SearchLayer(l,
            [new SearchOption("a", 0, new Dictionary<string, double> { ["params"] = 1_000_003 }, 1_000_003),
             new SearchOption("a-small", 0.5, new Dictionary<string, double> { ["params"] = 333_331 }, 333_331)],
            [new SearchOption("f", 0, new Dictionary<string, double> { ["params"] = 2_999_999 }, 2_999_999),
             new SearchOption("f-small", 0.25, new Dictionary<string, double> { ["params"] = 777_777 }, 777_777)])).ToList();
        var fixedCosts = new Dictionary<string, double> { ["params"] = 12_345 };
        var parentTotal = 12_345 + 7 * (1_000_003 + 2_999_999);
        var p = new SearchProblem(layers, fixedCosts, [new ResourceLimit("params", parentTotal, "params ≤ parent")]);

        var found = PuzzleSearch.Solve(p, SearchMethod.Mip)[0];

        Assert.Equal(0, found.Score);
        Assert.Equal(parentTotal, found.Cost("params"));
        Assert.All(found.Layers, c => Assert.Equal(("a", "f"), (c.Attention, c.Ffn)));
    }

    [Fact]
    public void A_total_equal_to_the_limit_up_to_floating_point_rounding_meets_it()
    {
        // 0.1 + 0.1 + 0.1 is 0.30000000000000004 in doubles: the parent still meets "time ≤ 0.3".
        var layers = Enumerable.Range(0, 3).Select(l => SearchLayer.OfBlocks(l,
            [new SearchOption("parent", 0, new Dictionary<string, double> { ["time_s"] = 0.1 }, 10),
             new SearchOption("no_op", 1, new Dictionary<string, double>(), 0)])).ToList();
        var p = new SearchProblem(layers, new Dictionary<string, double>(), [new ResourceLimit("time_s", 0.3, "time ≤ 0.3 s")]);

        foreach (var method in new[] { SearchMethod.Mip, SearchMethod.Greedy, SearchMethod.MaxParams })
        {
            var found = PuzzleSearch.Solve(p, method)[0];
            Assert.Equal(0, found.Score);
            Assert.True(found.Meets(p));
        }
    }

    [Fact]
    public void A_relative_gap_still_gives_feasible_diverse_solutions()
    {
        var p = Instances.Random(9, layers: 12, attention: 6, ffn: 9, fraction: 0.5);
        var exact = PuzzleSearch.Solve(p, SearchMethod.Mip)[0];
        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 3, relativeGap: 1e-2);
        Assert.All(found, a => Assert.True(a.Meets(p)));
        Assert.Equal(exact.Layers, found[0].Layers); // the first is always solved exactly
        Assert.True(found[0].Optimal);
        for (var i = 0; i < found.Count; i++)
            for (var j = i + 1; j < found.Count; j++)
                Assert.True(found[i].Layers.Zip(found[j].Layers).Count(l => l.First == l.Second) <= (int)Math.Floor(0.8 * p.Layers.Count));
    }

    [Fact]
    public void Same_problem_gives_the_same_architecture()
    {
        var p = Instances.Random(7, layers: 24, attention: 6, ffn: 9, fraction: 0.5);
        var first = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 3);
        var second = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 3);
        Assert.Equal(first.Count, second.Count);
        foreach (var (a, b) in first.Zip(second))
        {
            Assert.Equal(a.Layers, b.Layers);
            Assert.Equal(a.Score, b.Score);
        }
    }

    [Fact]
    public void Rejects_a_malformed_problem()
    {
        var p = Instances.Random(1);
        Assert.Throws<ArgumentException>(() => PuzzleSearch.Solve(p with { Layers = [] }, SearchMethod.Mip));
        Assert.Throws<ArgumentException>(() => PuzzleSearch.Solve(p with { Layers = [p.Layers[0], p.Layers[0]] }, SearchMethod.Mip));
        Assert.Throws<ArgumentException>(() => PuzzleSearch.Solve(p with { Layers = [new SearchLayer(0, [], p.Layers[0].Ffn)] }, SearchMethod.Mip));
        Assert.Throws<ArgumentOutOfRangeException>(() => PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 0));
    }
}
