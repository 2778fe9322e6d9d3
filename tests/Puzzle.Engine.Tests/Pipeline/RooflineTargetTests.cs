using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary><c>scenario.target</c>: costs for hardware that is not here come from its roofline, and nothing is timed.</summary>
public class RooflineTargetTests
{
    [Fact]
    public async Task With_a_target_every_cost_the_search_reads_is_that_hardwares_roofline()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("constraints:", "scenario:\n  target: h100-sxm\n  batch: 4\nconstraints:"));
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Measure", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));

        var spec = session.Spec;
        var parent = ParentStage.PlannedConfig(spec);
        var hw = Hardware.Known["h100-sxm"];
        var (batch, prompt, generate) = (spec.Scenario.Batch, spec.Scenario.Prompt, spec.Scenario.Generate);
        var Cost = MeasureStage.Lookup(id => session.Store.Find(session.Graph.Find("Measure", id).Key)!.Directory).Cost;

        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var (attention, ffn) = VariantCatalog.Shapes(catalog);
        foreach (var a in attention)
            Assert.Equal(Roofline.BlockCost(parent, new BlockConfig(a, FfnConfig.NoOp), batch, prompt, generate, hw), Cost(MeasureStage.AttentionJob(batch, a)));
        foreach (var f in ffn)
            Assert.Equal(Roofline.BlockCost(parent, new BlockConfig(AttentionConfig.NoOp, f), batch, prompt, generate, hw), Cost(MeasureStage.FfnJob(batch, f)));
        Assert.Equal(Roofline.HeadCost(parent, batch, hw), Cost($"b{batch}.head"));
        var whole = Cost($"b{batch}.parent");
        Assert.Equal(Roofline.ModelCost(parent, batch, prompt, generate, hw), whole);
        Assert.Equal(whole.Parameters, new CausalLM(parent).parameters().Sum(p => p.numel())); // the analytic count is the model's

        // where bytes are what a step costs, fewer KV heads and a narrower FFN are cheaper than the parent's subblocks
        var parentBlock = parent.Blocks[0];
        Assert.True(Cost(MeasureStage.AttentionJob(batch, parentBlock.Attention with { KvHeads = 1 })).DecodeSecondsPerToken <
                    Cost(MeasureStage.AttentionJob(batch, parentBlock.Attention)).DecodeSecondsPerToken);
        var ffns = catalog.Where(v => v.Subblock == Subblock.Ffn && v.Ffn!.Kind == FfnKind.SwiGlu).Select(v => v.Ffn!).Distinct()
            .OrderBy(f => f.IntermediateSize).Select(f => Cost(MeasureStage.FfnJob(batch, f)).DecodeSecondsPerToken).ToList();
        Assert.True(ffns.Count >= 3);
        Assert.Equal(ffns.Order(), ffns);
        Assert.Equal(ffns.Count, ffns.Distinct().Count());

        var metrics = session.Store.Find(session.Graph.Find("Measure", MeasureStage.JobId(batch)).Key)!.Manifest.Metrics;
        Assert.StartsWith("roofline of NVIDIA H100 SXM", (string?)metrics["cost_model"]);
    }
}
