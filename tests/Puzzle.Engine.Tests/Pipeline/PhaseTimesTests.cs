using Puzzle.Engine.Pipeline.Graph;
using Xunit;

namespace Puzzle.Engine.Tests.Pipeline;

public sealed class PhaseTimesTests
{
    [Fact]
    public void Each_phase_is_timed_from_where_the_last_one_ended_and_logged_when_asked()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var spec = repo.Load();
        var job = PipelineGraph.Plan(spec, Engine.Pipeline.Stages.PuzzleStages.All()).Jobs["Data"].Single();
        using var temp = new TempDir();
        var log = new StringWriter();
        var context = new JobContext(job, spec, null!, temp.Path, log, threads: 1);
        Thread.Sleep(50);
        context.PhaseDone("load");
        context.PhaseDone("save", log: false);
        var phases = context.Metrics["phase_seconds"]!.AsObject();
        Assert.Equal(["load", "save"], phases.Select(p => p.Key));
        Assert.True(phases["load"]!.GetValue<double>() >= 0.05);
        Assert.True(phases["save"]!.GetValue<double>() < phases["load"]!.GetValue<double>());
        Assert.Equal(["load: "], log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..6]));
    }
}
