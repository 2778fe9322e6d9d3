using Puzzle.Engine.Cost;
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

    [Theory]
    [InlineData(0L, 2)] // nothing kept: rounds of models built fresh, one at a time
    [InlineData(long.MaxValue, 1)] // every model kept: warmed up once, then timed one run at a time in turn
    [InlineData(long.MaxValue, 3)] // every model kept three times, each copy timed in turn
    public void Every_model_is_timed_and_keeps_its_fastest_in_the_models_order(long keepBytes, int copies)
    {
        Fixtures.Torch();
        var parent = ModelConfig.Llama(64, 16, 2, 2, 1, 32);
        var small = parent with { Blocks = [new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp), new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp)] };
        var scenario = new TimingScenario(Prompt: 4, Generate: 2, Warmup: 1, Repeats: 3);
        var calls = new List<(int Done, int Total)>();
        var costs = CostMeter.InRounds([parent, small, parent], scenario, 1, 2, Engine.Runtime.ComputeDevice.Cpu, (d, t) => calls.Add((d, t)), keepBytes, copies);

        Assert.Equal(3, costs.Count);
        Assert.All(costs, c => Assert.True(c.PrefillSeconds > 0 && c.DecodeSecondsPerToken > 0));
        // parameters tell whose cost is whose: in the models' order, whatever order they were timed in
        using (var whole = new CausalLM(parent)) Assert.Equal([whole.parameters().Sum(p => p.numel()), CostMeter.Parameters(small), CostMeter.Parameters(parent)],
            costs.Select(c => c.Parameters));
        using (var empty = new CausalLM(small)) Assert.Equal(empty.parameters().Sum(p => p.numel()), costs[1].Parameters);
        // kept: the runs two rounds of (1 warm-up + 2 repeats) make, less the one warm-up; fresh: one call per model and round
        // (as many with copies: a copy is timed instead of another run of the first); and (0, total) before any
        var total = keepBytes == 0 ? 2 * 3 : (2 * (1 + 2) - 1) * 3;
        Assert.Equal(Enumerable.Range(0, total + 1).Select(d => (d, total)), calls);
    }

    [Theory]
    [InlineData(100, 99, 2, 0)] // not one fits: built one at a time
    [InlineData(100, 100, 2, 1)]
    [InlineData(100, 199, 2, 1)]
    [InlineData(100, 250, 2, 2)]
    [InlineData(100, long.MaxValue, 3, 3)]
    public void Models_are_kept_in_as_many_copies_as_fit(long bytes, long budget, int copies, int kept) =>
        Assert.Equal(kept, CostMeter.CopiesThatFit(bytes, budget, copies));

    [Fact]
    public void Models_are_timed_again_when_the_parent_timed_far_from_the_measure_jobs_time()
    {
        static MeasuredCost Cost(double prefill, double decode) => new(prefill, decode, 1, 4, 8);
        var calls = 0;
        // the first timing disturbed: the parent 50% slow, the model 10% slow; the second steady
        IReadOnlyList<MeasuredCost> Time() => calls++ == 0 ? [Cost(0.15, 0.015), Cost(0.055, 0.0055)] : [Cost(0.1, 0.01), Cost(0.06, 0.004)];
        var (costs, timings) = SpeedStage.Confirmed(Time, expectedParent: 0.1 + 2 * 0.01, generate: 2, TextWriter.Null);
        Assert.Equal((2, 2), (calls, timings));
        Assert.Equal([(0.1, 0.01), (0.055, 0.004)], costs.Select(c => (c.PrefillSeconds, c.DecodeSecondsPerToken))); // each the faster of two

        calls = 0; // within 10%: timed once
        (costs, timings) = SpeedStage.Confirmed(() => { calls++; return [Cost(0.105, 0.0105), Cost(0.06, 0.006)]; }, 0.12, 2, TextWriter.Null);
        Assert.Equal((1, 1), (calls, timings));
        calls = 0; // no Measure time to compare with (a roofline target): timed once
        (_, timings) = SpeedStage.Confirmed(() => { calls++; return [Cost(0.3, 0.03)]; }, null, 2, TextWriter.Null);
        Assert.Equal((1, 1), (calls, timings));
    }

    [Fact]
    public void Fewer_than_one_copy_is_refused()
    {
        var parent = ModelConfig.Llama(64, 16, 2, 2, 1, 32);
        Assert.Throws<ArgumentOutOfRangeException>(() => CostMeter.InRounds([parent], new TimingScenario(4, 2, 1, 1), 1, 1, Engine.Runtime.ComputeDevice.Cpu, copies: 0));
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
        Assert.InRange(speeds.Timings, 1, 2);
        Assert.Equal(speeds.Timings, (int)entry.Manifest.Metrics["timings"]!);
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
        Assert.Equal("eager", (string?)entry.Manifest.Metrics["runtime"]);
        Assert.EndsWith("threads", speeds.Scenario.MeasuredOn);
        var measure = session.Store.Find(session.Graph.Find("Measure", "b2").Key)!;
        Assert.Equal("eager", (string?)measure.Manifest.Metrics["runtime"]);
        Assert.Contains("(eager TorchSharp,", (string?)measure.Manifest.Metrics["cost_model"]);
        Assert.True(configs < speeds.Models.Count + 1, "the micro pipeline's methods chose some architecture twice");
    }
}
