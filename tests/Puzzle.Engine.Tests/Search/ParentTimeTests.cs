using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Tests.Search;

/// <summary>
/// A limit relative to the parent, and every predicted speedup, is against the parent's summed blocks, as every
/// architecture's time is: a model is slower than its blocks timed in models of one shape each by about as much as the
/// parent is, so the ratio of sums put 11 and 12 of 12 models within ±11% on the default pipeline, where the parent timed
/// whole over a child's sum put 5 and 4 there. The size curve the Measure job fits takes up the rest: a smaller model
/// is relatively faster, so a time limit on summed blocks goes through the curve's inverse.
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

    [Fact]
    public void With_a_size_curve_each_time_limit_allows_the_summed_time_whose_predicted_whole_time_meets_it()
    {
        var spec = ArchitectureProblem.Settings.Of(CombinedScoringTests.Spec(ScoreBlocks.Subblocks));
        spec = spec with { Constraints = spec.Constraints with { LatencyMs = 2500, ThroughputTokensPerS = spec.Scenario.Batch * spec.Scenario.Generate / 2.4 } };
        var curve = new SizeCurve(0.2);
        var (problem, parent, parentAt) = ArchitectureProblem.Build(spec, CombinedScoringTests.Parent, CombinedScoringTests.Scores, Cost, _ => curve);
        Assert.Equal(curve, parent.Curve);
        var limits = problem.Limits.Where(l => l.Resource == ArchitectureProblem.Time).ToList();
        Assert.Equal(3, limits.Count);
        // throughput ≥ 2x: the parent's whole 6 s over 2 is 3 s, which summed blocks of 4·Inverse(1/2) ≈ 2.2 s give (not 2 s)
        Assert.Equal(4 * curve.Inverse(0.5), limits[0].Max, 9);
        Assert.True(limits[0].Max > 2.19);
        Assert.Equal(3, parent.Seconds(limits[0].Max), 9);
        Assert.Equal(2, parent.Speedup(limits[0].Max), 9);
        Assert.Equal("2.00× parent throughput", limits[0].Describe!(limits[0].Max));
        Assert.Equal(2.4, parent.Seconds(limits[1].Max), 9); // tokens/s: at most 2.4 s a request, predicted whole
        Assert.Equal(2.5, parent.Seconds(limits[2].Max), 9); // latency 2500 ms
        Assert.Equal("2500 ms", limits[2].Describe!(limits[2].Max));
        var found = PuzzleSearch.Solve(problem, SearchMethod.Mip)[0];
        Assert.True(parent.Speedup(found.Cost(ArchitectureProblem.Time)) >= 2 - 1e-9);

        // the closed loop judges measured whole times: its limits do not go through the curve
        var measured = SearchLoop.MeasuredLimits(spec, parentAt, 5).Where(l => l.Resource == ArchitectureProblem.Time).ToList();
        Assert.Equal([2.5, 2.4, 2.5], measured.Select(l => Math.Round(l.Max, 9)));
    }
}
