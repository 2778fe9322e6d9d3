using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Search;

/// <summary>Counting subblock slots (<see cref="DiversityUnit.Subblock"/>); the paper's rule is in <see cref="PaperDiversityTests"/>.</summary>
public class DiversityTests
{
    [Theory]
    [InlineData(0.8)]
    [InlineData(0.5)]
    public void Every_pair_shares_at_most_the_allowed_blocks_and_solutions_come_best_first(double diversity)
    {
        var p = Instances.Random(11, layers: 5, fraction: 0.7);
        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 4, diversity: diversity, unit: DiversityUnit.Subblock);

        Assert.Equal(4, found.Count);
        var allowed = (int)Math.Floor(diversity * 2 * p.Layers.Count);
        for (var i = 0; i < found.Count; i++)
        {
            Assert.True(found[i].Meets(p));
            for (var j = i + 1; j < found.Count; j++)
                Assert.True(Instances.Shared(found[i], found[j]) <= allowed, $"solutions {i} and {j} share too much");
        }
        Assert.Equal(found.OrderBy(a => a.Score).Select(a => a.Score), found.Select(a => a.Score));
        Instances.AssertClose(PuzzleSearch.Solve(p, SearchMethod.Mip)[0].Score, found[0].Score);
    }

    [Fact]
    public void Whole_blocks_count_for_both_subblocks()
    {
        var p = Instances.Random(12, layers: 4, blockLayers: 4, fraction: 0.8);
        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 3, diversity: 0.5, unit: DiversityUnit.Subblock);
        for (var i = 0; i < found.Count; i++)
            for (var j = i + 1; j < found.Count; j++)
                Assert.True(Instances.Shared(found[i], found[j]) <= 4);
    }

    [Fact]
    public void Asking_for_more_than_exist_returns_every_feasible_architecture_in_score_order()
    {
        // 2 layers × 2 × 2 options: 16 architectures; diversity 1 only asks each to differ from the earlier ones.
        var p = Instances.Random(5, layers: 2, attention: 2, ffn: 2, fraction: 0.8);
        var feasible = Instances.All(p).Where(c => c.Meets(p.Limits)).OrderBy(c => c.Score).ToList();
        Assert.InRange(feasible.Count, 2, 15);

        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 100, diversity: 1);

        Assert.Equal(feasible.Count, found.Count);
        Assert.Equal(found.Count, found.Select(a => string.Join(",", a.Layers)).Distinct().Count());
        foreach (var (expected, actual) in feasible.Zip(found)) Instances.AssertClose(expected.Score, actual.Score);
    }

    [Fact]
    public void Stops_early_when_diversity_leaves_nothing()
    {
        var p = Instances.Random(6, layers: 2, attention: 2, ffn: 2, fraction: 1.0);
        // Sharing nothing with the first solution: with 2 options per slot at most one more architecture exists.
        var found = PuzzleSearch.Solve(p, SearchMethod.Mip, solutions: 10, diversity: 0, unit: DiversityUnit.Subblock);
        Assert.InRange(found.Count, 1, 2);
    }
}
