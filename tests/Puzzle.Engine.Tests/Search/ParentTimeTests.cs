using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Tests.Search;

/// <summary>
/// A limit relative to the parent, and every predicted speedup, is against the parent's summed blocks, as every
/// architecture's time is: a model is slower than its blocks timed in models of one shape each by about as much as the
/// parent is, so the ratio of sums put 11 and 12 of 12 models within ±11% on the default pipeline, where the parent timed
/// whole over a child's sum put 5 and 4 there. The whole parent is kept, to report the additive model's error.
/// </summary>
public class ParentTimeTests
{
    /// <summary>Every kept subblock 1 s, no-ops and the head 0: the parent's blocks add up to 4 s, the parent measured 6 s.</summary>
    static MeasuredCost Cost(string job) => job.EndsWith(".no_op") || job.EndsWith(".head") ? new MeasuredCost(0, 0, 0, 0, 0)
        : job.EndsWith(".parent") ? new MeasuredCost(6, 0, 400, 1600, 0)
        : new MeasuredCost(1, 0, 100, 400, 0);

    [Fact]
    public void Throughput_limits_are_relative_to_the_parents_summed_blocks_and_its_whole_timing_is_kept()
    {
        var spec = ArchitectureProblem.Settings.Of(CombinedScoringTests.Spec(ScoreBlocks.Subblocks)); // throughput ≥ 2× parent
        var (problem, parent, _) = ArchitectureProblem.Build(spec, CombinedScoringTests.Parent, CombinedScoringTests.Scores, Cost);
        Assert.Equal(4, parent.TimeSeconds, 9);
        Assert.Equal(6, parent.MeasuredTimeSeconds, 9);
        Assert.Equal(400, parent.Parameters, 9); // memory and parameters add up, exactly
        var limit = Assert.Single(problem.Limits, l => l.Resource == ArchitectureProblem.Time);
        Assert.Equal(2, limit.Max, 9); // 4 s / 2, where the parent timed whole would allow 3 s
    }
}
