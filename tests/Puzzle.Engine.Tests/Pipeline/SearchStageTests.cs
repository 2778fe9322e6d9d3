using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

[CollectionDefinition(nameof(TimingCollection), DisableParallelization = true)]
public sealed class TimingCollection;

/// <summary>Scoring, measured costs and the search through the real stages, on a small pretrained parent.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
[Collection(nameof(TimingCollection))] // cost measurements run with no other test beside them
public class SearchStageTests
{
    const string Spec = TestRepo.MicroSpec;

    static async Task<PipelineSession> Run(TestRepo repo, string target)
    {
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync(target, session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        return session;
    }

    [Fact]
    public async Task Search_chooses_architectures_that_meet_the_constraints_and_a_constraint_change_reruns_only_the_search()
    {
        using var repo = new TestRepo(Spec.Replace("tokens: 3000, batch: 4", "tokens: 20000, batch: 8")
            + "\nscenario: { batch: 2, prompt: 16, generate: 4, repeats: 3, warmup: 1 }\nsearch: { solutions: 2, batch_sizes: [1] }\n");
        var session = await Run(repo, "Search");

        var scores = session.Graph.Jobs["Score"].Select(j => JsonDocument.Parse(File.ReadAllText(
            Path.Combine(session.Store.Find(j.Key)!.Directory, ScoreStage.ScoresFile))).RootElement).ToList();
        Assert.Equal(2, scores.Count);
        foreach (var layer in scores)
            foreach (var v in layer.GetProperty("variants").EnumerateObject())
                Assert.True(v.Value.GetProperty("kl").GetDouble() >= 0, v.Name);
        // removing a subblock loses more than a trained narrower FFN does
        var l0 = scores[0].GetProperty("variants");
        Assert.True(l0.GetProperty("layer0.ffn.no_op").GetProperty("kl").GetDouble() > l0.GetProperty("layer0.ffn.ratio0.5").GetProperty("kl").GetDouble());

        // one search for both batch sizes, named after scenario.batch; the constraint holds at each
        var search = session.Store.Find(Assert.Single(session.Graph.Jobs["Search"], j => j.Id == "b2").Key)!;
        var doc = JsonDocument.Parse(File.ReadAllText(search.File(SearchStage.ArchitecturesFile))).RootElement;
        Assert.Equal([2, 1], doc.GetProperty("batch_sizes").EnumerateArray().Select(b => b.GetInt32()));
        Assert.True(doc.GetProperty("parent").GetProperty("batches").GetProperty("1").GetProperty("measured_time_s").GetDouble() > 0);
        var architectures = doc.GetProperty("architectures").EnumerateArray().ToList();
        Assert.InRange(architectures.Count, 1, 2);
        Assert.All(architectures, a => Assert.True(a.GetProperty("predicted").GetProperty("speedup").GetDouble() >= 1.5 - 1e-9));
        Assert.All(architectures, a => Assert.True(
            a.GetProperty("predicted").GetProperty("batches").GetProperty("1").GetProperty("speedup").GetDouble() >= 1.5 - 1e-9));
        Assert.Equal(2, architectures[0].GetProperty("block_configs").GetArrayLength());
        Assert.Contains("layer1", File.ReadAllText(search.File(SearchStage.ExplainFile)));
        // what puzzle search --explain prints opens with what the closed loop measured, as report.txt does
        Assert.StartsWith("# closed loop: the search timed its child ", File.ReadAllText(search.File(SearchStage.ExplainFile)));
        Assert.True(File.Exists(search.File(SearchStage.ParetoSvg)));
        Assert.True(File.Exists(Path.Combine(repo.Root, "artifacts", "test", "search", "b2", SearchStage.ArchitecturesFile)));

        repo.Edit("throughput_vs_parent: 1.5", "throughput_vs_parent: 1.2");
        var changed = PipelineSession.Open(repo.SpecPath);
        var stale = changed.Status("Search").Where(s => s.State != JobState.Cached).Select(s => $"{s.Stage}/{s.Job}").ToList();
        Assert.Equal(["Search/b2"], stale);
        var rerun = await changed.RunAsync("Search", changed.InProcessLauncher(), TextWriter.Null);
        Assert.Equal(["Search/b2"], rerun.Where(JobOutcome.Ran).Select(j => $"{j.Stage}/{j.Job}"));
    }

    [Fact]
    public void Measured_costs_are_sane()
    {
        Fixtures.Torch();
        var parent = Engine.Model.ModelConfig.Llama(vocab: 128, hidden: 128, layers: 1, heads: 4, kvHeads: 2, intermediate: 512);
        var scenario = new Engine.Pipeline.Spec.ScenarioSpec { Batch = 4, Prompt = 64, Generate = 8, Repeats = 5, Warmup = 2 };
        MeasuredCost Of(Engine.Model.AttentionConfig a, Engine.Model.FfnConfig f) => CostMeter.Block(parent, new(a, f), scenario.Timing(), scenario.Batch);
        var wide = Of(Engine.Model.AttentionConfig.NoOp, Engine.Model.FfnConfig.SwiGlu(512));
        var narrow = Of(Engine.Model.AttentionConfig.NoOp, Engine.Model.FfnConfig.SwiGlu(128));
        var noOp = Of(Engine.Model.AttentionConfig.NoOp, Engine.Model.FfnConfig.NoOp);
        var gqa = Of(Engine.Model.AttentionConfig.Gqa(2), Engine.Model.FfnConfig.NoOp);
        Assert.True(wide.PrefillSeconds >= narrow.PrefillSeconds, $"{wide.PrefillSeconds} < {narrow.PrefillSeconds}");
        Assert.True(wide.Parameters > narrow.Parameters);
        Assert.True(noOp.ScenarioSeconds(8) < 0.25 * gqa.ScenarioSeconds(8), $"no-op {noOp.ScenarioSeconds(8)} vs gqa {gqa.ScenarioSeconds(8)}");
        Assert.Equal(0, noOp.Parameters);
        Assert.Equal(0, noOp.KvBytesPerToken);
        Assert.Equal(2L * 2 * 32 * sizeof(float), gqa.KvBytesPerToken);
        var roof = Roofline.Block(parent, new(Engine.Model.AttentionConfig.NoOp, Engine.Model.FfnConfig.SwiGlu(512)), 4, 64, 8, Hardware.Known["h100-sxm"]);
        Assert.True(roof.PrefillSeconds > 0 && roof.DecodeSecondsPerToken > 0);
    }
}
