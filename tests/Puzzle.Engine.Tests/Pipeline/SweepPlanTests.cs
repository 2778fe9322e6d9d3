using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>evaluation.speed_targets plans one Sweep job per method and extra target, read by the Report job; [] plans none.</summary>
public sealed class SweepPlanTests
{
    static PipelineGraph Plan(TestRepo repo) => PipelineGraph.Plan(repo.Load(), PuzzleStages.All());

    [Fact]
    public void By_default_every_method_gets_a_job_at_the_targets_around_the_specs_and_the_report_reads_them()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec); // throughput_vs_parent: 1.5
        var graph = Plan(repo);

        var sweep = graph.Jobs["Sweep"];
        Assert.Equal(["puzzle.x1.25", "uniform.x1.25", "shortgpt.x1.25", "random.x1.25", "puzzle.x2", "uniform.x2", "shortgpt.x2", "random.x2"],
            sweep.Select(j => j.Id));
        var puzzle = sweep[0].ConfigAs<SweepStage.SweepJob>();
        Assert.Equal((SweepStage.Puzzle, 1.25, SearchMethod.Mip), (puzzle.Method, puzzle.Target, puzzle.Search));
        Assert.Null(puzzle.Seed); // only the random baseline reads evaluation.seed
        Assert.NotNull(sweep.Single(j => j.Id == "random.x2").ConfigAs<SweepStage.SweepJob>().Seed);
        Assert.Null(sweep.Single(j => j.Id == "uniform.x2").ConfigAs<SweepStage.SweepJob>().Search);
        Assert.All(sweep, j => Assert.Contains("variant:layer0.ffn.ratio0.5", j.Inputs.Keys)); // assembled from the library
        Assert.All(sweep, j => Assert.DoesNotContain(j.Inputs.Values, i => i.Stage.Name is "Heal" or "Search")); // no GKD, no search job
        var report = graph.Jobs["Report"].Single();
        Assert.Equal(sweep.Select(j => j.Key).Order(), report.Inputs.Where(i => i.Key.StartsWith("sweep:")).Select(i => i.Value.Key).Order());
    }

    [Fact]
    public void The_jobs_at_one_target_are_built_together_where_they_fit()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var spec = repo.Load();
        var sweep = PipelineGraph.Plan(spec, PuzzleStages.All()).Jobs["Sweep"];
        var stage = sweep[0].Stage;
        Assert.Equal(["uniform.x1.25", "shortgpt.x1.25", "random.x1.25"], stage.Companions(sweep[0], sweep, spec).Select(j => j.Id));
        Assert.Equal(["puzzle.x2", "uniform.x2", "random.x2"], stage.Companions(sweep[6], sweep, spec).Select(j => j.Id));
        // on this machine's CPU-only test runs no GPU is seen, so a cuda spec's jobs run alone
        if (Engine.Runtime.ResourcePeaks.GpuTotalBytes() is null) Assert.Empty(stage.Companions(sweep[0], sweep, spec with { Device = DeviceKind.Cuda }));
        // a 1.24B parent (Llama-3.2-1B) and 4 models: together on a 141 GB or 80 GB GPU, not a 40 GB one; 8.03B on none of them
        Assert.True(SweepStage.GroupFits(1_235_814_400, 4, 2, 141L << 30));
        Assert.True(SweepStage.GroupFits(1_235_814_400, 4, 2, 80L << 30));
        Assert.False(SweepStage.GroupFits(1_235_814_400, 4, 2, 40L << 30));
        Assert.False(SweepStage.GroupFits(8_030_261_248, 4, 2, 141L << 30));
        Assert.False(SweepStage.GroupFits(1_000, 4, 2, null)); // no driver: alone
        // on the CPU in float32: twice the bytes
        Assert.True(SweepStage.GroupFits(1_235_814_400, 4, 4, 100L << 30));
        Assert.False(SweepStage.GroupFits(1_235_814_400, 4, 4, 80L << 30));
    }

    [Fact]
    public void An_empty_list_plans_no_sweep_and_a_list_drops_the_specs_own_target()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("  tokens: 400", "  tokens: 400\n  speed_targets: []"));
        var graph = Plan(repo);
        Assert.Empty(graph.Jobs["Sweep"]);
        Assert.DoesNotContain(graph.Jobs["Report"].Single().Inputs.Keys, k => k.StartsWith("sweep:"));

        repo.Edit("speed_targets: []", "speed_targets: [3, 1.5, 1.2]\n  baselines: [shortgpt]");
        Assert.Equal(["puzzle.x1.2", "shortgpt.x1.2", "puzzle.x3", "shortgpt.x3"], Plan(repo).Jobs["Sweep"].Select(j => j.Id));
    }

    [Theory]
    [InlineData(1.5, new[] { 1.25, 2.0 })]
    [InlineData(2.0, new[] { 1.5, 2.5 })]
    [InlineData(1.2, new[] { 1.1, 1.7 })] // never at or below the parent: halfway between it and the target
    public void The_default_targets_sit_around_the_specs(double target, double[] expected)
    {
        var extra = EvaluationSpec.ExtraTargets(new EvaluationSpec(), new ConstraintsSpec { ThroughputVsParent = target });
        Assert.Equal(expected, extra.Select(x => Math.Round(x, 9)));
        Assert.Empty(EvaluationSpec.ExtraTargets(new EvaluationSpec(), new ConstraintsSpec { MemoryVsParent = 0.5 }));
    }

    [Fact]
    public void A_target_at_or_below_the_parent_is_an_error_naming_the_field()
    {
        var yaml = TestRepo.MicroSpec.Replace("  tokens: 400", "  tokens: 400\n  speed_targets: [1.5, 0.8]");
        var e = Assert.Throws<SpecException>(() => SpecLoader.Parse(yaml, "t.yaml", Path.GetTempPath()));
        Assert.Contains("evaluation.speed_targets", e.Message);
    }
}
