using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// One Speed job times the parent and every model the report compares, so every measured speedup is a ratio to the same
/// parent timing (each model timed beside a parent of its own, in a job of its own, had that parent vary by ±11% between
/// jobs); Evaluate and Sweep no longer time, and run beside other jobs.
/// </summary>
public sealed class SpeedStageTests
{
    static PipelineGraph Plan(string spec)
    {
        using var repo = new TestRepo(spec);
        return PipelineGraph.Plan(repo.Load(), PuzzleStages.All());
    }

    [Fact]
    public void One_job_reads_the_search_and_every_sweep_model_and_the_report_reads_it()
    {
        var graph = Plan(TestRepo.MicroSpec);
        var speed = Assert.Single(graph.Jobs["Speed"]);
        Assert.Equal(["search", .. graph.Jobs["Sweep"].Select(j => "sweep:" + j.Id).Order(StringComparer.Ordinal)],
            speed.Inputs.Keys.Order(StringComparer.Ordinal));
        var job = speed.ConfigAs<SpeedStage.SpeedJob>();
        Assert.Equal(["child1", "uniform", "shortgpt", "random"], job.Models);
        Assert.Equal(graph.Jobs["Sweep"].Select(j => j.Id), job.SweepModels);
        Assert.Equal(speed.Key, graph.Jobs["Report"].Single().Inputs["speed"].Key);
        Assert.True(speed.Stage.Exclusive);
        Assert.False(graph.Jobs["Evaluate"][0].Stage.Exclusive);
        Assert.False(graph.Jobs["Sweep"][0].Stage.Exclusive);
    }

    [Fact]
    public void Training_settings_leave_the_timings_cached_and_the_scenario_does_not()
    {
        var before = Plan(TestRepo.MicroSpec);
        var gkd = Plan(TestRepo.MicroSpec + "\ngkd: { tokens: 5000 }\n");
        Assert.NotEqual(before.Find("Heal", "child1").Key, gkd.Find("Heal", "child1").Key);
        Assert.Equal(before.Jobs["Speed"].Single().Key, gkd.Jobs["Speed"].Single().Key); // the same architectures, the same timings
        var scenario = Plan(TestRepo.MicroSpec + "\nscenario: { prompt: 64 }\n");
        Assert.NotEqual(before.Jobs["Speed"].Single().Key, scenario.Jobs["Speed"].Single().Key);
    }

    [Fact]
    public void Every_model_is_timed_in_every_round_and_keeps_its_fastest()
    {
        Fixtures.Torch();
        var parent = ModelConfig.Llama(64, 16, 2, 2, 1, 32);
        var small = parent with { Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp), new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)] };
        var log = new StringWriter();
        var costs = SpeedStage.Time([parent, small], new Engine.Pipeline.Spec.ScenarioSpec { Batch = 1, Prompt = 4, Generate = 2, Repeats = 3, Warmup = 0 },
            Engine.Runtime.ComputeDevice.Cpu, log);
        Assert.Equal(2, costs.Count);
        Assert.All(costs, c => Assert.True(c.PrefillSeconds > 0 && c.DecodeSecondsPerToken > 0));
        // parameters tell which cost is whose: the timings come back in the models' order, whatever order the rounds took
        using (var whole = new CausalLM(parent)) Assert.Equal(whole.parameters().Sum(p => p.numel()), costs[0].Parameters);
        using (var empty = new CausalLM(small)) Assert.Equal(empty.parameters().Sum(p => p.numel()), costs[1].Parameters);
        Assert.Contains($"{SpeedStage.Rounds * 2}/{SpeedStage.Rounds * 2} model", log.ToString());
    }

    [Fact]
    public async Task The_job_times_the_parent_and_each_compared_model_and_equal_architectures_once()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec + "\nscenario: { batch: 2, prompt: 8, generate: 2, repeats: 2, warmup: 1 }\n");
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Speed", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        Assert.DoesNotContain(summary.Jobs, j => j.Stage is "Heal" or "Evaluate"); // timings need no trained model

        var entry = session.Store.Find(session.Graph.Jobs["Speed"].Single().Key)!;
        var speeds = SpeedStage.SpeedsRecord.Read(entry.Directory);
        var job = session.Graph.Jobs["Speed"].Single().ConfigAs<SpeedStage.SpeedJob>();
        Assert.Equal(job.Models.Concat(job.SweepModels).Order(StringComparer.Ordinal), speeds.Models.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((2, 8, 2, SpeedStage.Rounds), (speeds.Scenario.Batch, speeds.Scenario.Prompt, speeds.Scenario.Generate, speeds.Rounds));
        foreach (var (name, s) in speeds.Models.Where(m => m.Value.Skipped is null))
        {
            Assert.True(s.Speed!.ScenarioTokensPerS > 0, name);
            Assert.Equal(s.Speed.ScenarioTokensPerS / speeds.Parent.ScenarioTokensPerS, s.Speedup!.Scenario, 12);
            Assert.Equal(s.Speed.DecodeTokensPerS / speeds.Parent.DecodeTokensPerS, s.Speedup.Decode, 12);
        }
        // every architecture once: as many timed as there are distinct ones among the parent and the models
        var search = session.Store.Find(session.Graph.Find("Search", "b2").Key)!.Directory;
        var configs = job.Models.Select(id => HealStage.Chosen(search, id).Architecture?.Layers)
            .Concat(job.SweepModels.Select(id => SweepStage.SweepResult.Read(session.Store.Find(session.Graph.Find("Sweep", id).Key)!.Directory))
                .Select(r => r.Skipped is null ? r.Layers : null))
            .Where(l => l is not null)
            .Select(l => System.Text.Json.JsonSerializer.Serialize(VariantCatalog.ToModel(job.Parent, job.SearchSpace.Alternatives, l!), PuzzleJson.Options))
            .Append(System.Text.Json.JsonSerializer.Serialize(job.Parent, PuzzleJson.Options)).Distinct().Count();
        Assert.Equal(configs, (int)entry.Manifest.Metrics["architectures"]!);
        Assert.True(configs < speeds.Models.Count + 1, "the micro pipeline's methods chose some architecture twice");
    }
}
