using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Search;

public class BaselineTests
{
    [Fact]
    public void Greedy_and_max_parameters_are_feasible_and_never_beat_the_mip()
    {
        var checkedInstances = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var p = Instances.Random(seed);
            var feasible = Instances.All(p).Where(c => c.Meets(p.Limits)).ToList();
            if (feasible.Count == 0) continue;
            checkedInstances++;
            var mip = PuzzleSearch.Solve(p, SearchMethod.Mip)[0];

            var greedy = Assert.Single(PuzzleSearch.Solve(p, SearchMethod.Greedy));
            Assert.True(greedy.Meets(p), $"seed {seed}: greedy breaks a limit");
            Assert.True(greedy.Score >= mip.Score - 1e-9, $"seed {seed}: greedy {greedy.Score} beat the MIP {mip.Score}");
            Assert.False(greedy.Optimal);

            var largest = PuzzleSearch.Solve(p, SearchMethod.MaxParams)[0];
            Assert.True(largest.Meets(p), $"seed {seed}: max-parameters breaks a limit");
            Assert.True(largest.Score >= mip.Score - 1e-9);
            Assert.Equal(feasible.Max(c => c.Parameters), largest.Parameters);
        }
        Assert.True(checkedInstances >= 10);
    }

    [Fact]
    public void Greedy_starts_from_the_parent_and_keeps_it_when_it_fits()
    {
        var p = Instances.Random(2, fraction: 1.0);
        var greedy = PuzzleSearch.Solve(p, SearchMethod.Greedy)[0];
        Assert.Equal(0, greedy.Score);
        Assert.All(greedy.Layers, c => Assert.Equal(("attn-parent", "ffn-parent"), (c.Attention, c.Ffn)));
    }

    [Fact]
    public void Max_parameters_sorts_its_solutions_by_parameters()
    {
        var p = Instances.Random(4, layers: 5, fraction: 0.7);
        var found = PuzzleSearch.Solve(p, SearchMethod.MaxParams, solutions: 3);
        Assert.Equal(found.OrderByDescending(a => a.Parameters).Select(a => a.Parameters), found.Select(a => a.Parameters));
    }
}
