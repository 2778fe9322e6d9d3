using Puzzle.Engine.Pipeline.Graph;
using Xunit;

namespace Puzzle.Engine.Tests.Pipeline;

public sealed class PhaseTimesTests
{
    [Fact]
    public void Phases_follow_one_another_in_the_manifest_and_are_logged_when_asked()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var spec = repo.Load();
        var job = PipelineGraph.Plan(spec, Engine.Pipeline.Stages.PuzzleStages.All()).Jobs["Data"].Single();
        using var temp = new TempDir();
        var log = new StringWriter();
        var outside = System.Diagnostics.Stopwatch.StartNew();
        var context = new JobContext(job, spec, null!, temp.Path, log, threads: 1);
        context.PhaseDone("load");
        context.PhaseDone("save", log: false);
        var total = outside.Elapsed.TotalSeconds;
        var phases = context.Metrics["phase_seconds"]!.AsObject();
        Assert.Equal(["load", "save"], phases.Select(p => p.Key));
        var seconds = phases.Select(p => p.Value!.GetValue<double>()).ToList();
        Assert.All(seconds, s => Assert.True(s >= 0));
        Assert.True(seconds.Sum() <= total + 0.002, $"{seconds.Sum()} s of phases in {total} s"); // consecutive, not overlapping (rounded to 1 ms)
        Assert.Equal(["load: "], log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..6]));
    }
}
