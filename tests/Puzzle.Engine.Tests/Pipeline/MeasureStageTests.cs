using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// Measure times every cost of a batch size in one job, in the same rounds (costs timed in jobs of their own, minutes
/// apart, disagreed by 10-40% on a shared CPU), and a block shape's cost is its shape model's less the head model's,
/// per block.
/// </summary>
public class MeasureStageTests
{
    [Fact]
    public async Task One_job_per_batch_size_times_every_shape_the_head_and_the_parent()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("constraints:", "scenario: { batch: 2, prompt: 8, generate: 2, repeats: 2, warmup: 1 }\nsearch: { batch_sizes: [1] }\nconstraints:"));
        var session = PipelineSession.Open(repo.SpecPath);
        Assert.Equal(["b1", "b2"], session.Graph.Jobs["Measure"].Select(j => j.Id).Order());
        var summary = await session.RunAsync("Measure", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));

        var parent = ParentStage.PlannedConfig(session.Spec);
        var catalog = VariantCatalog.For(parent, session.Spec.SearchSpace.Alternatives);
        var (attention, ffn) = VariantCatalog.Shapes(catalog);
        foreach (var batch in new[] { 1, 2 })
        {
            var record = MeasureStage.Read(session.Store.Find(session.Graph.Find("Measure", MeasureStage.JobId(batch)).Key)!.Directory);
            Assert.Equal(batch, record.Batch);
            Assert.Equal(MeasureStage.Rounds, record.Rounds);
            // the machine, named as Speed names its own, so that the report can tell costs timed elsewhere
            Assert.StartsWith($"{Engine.Packaging.BuildFacts.Cpu()}, {record.Threads} threads", record.MeasuredOn);
            Assert.Equal(attention.Select(a => $"attention.{a}").Concat(ffn.Select(f => $"ffn.{f}")).Append("head").Append("parent").Order(StringComparer.Ordinal),
                record.Costs.Keys.Order(StringComparer.Ordinal));
            Assert.All(record.Costs.Values, c => Assert.True(c.PrefillSeconds >= 0 && c.DecodeSecondsPerToken >= 0));
            using var whole = new CausalLM(parent);
            Assert.Equal(whole.parameters().Sum(p => p.numel()), record.Costs["parent"].Parameters);
            // a shape's parameters are one block's: its shape model's less the head model's, over the depth
            foreach (var a in attention)
            {
                using var block = new DecoderBlock(parent, new BlockConfig(a, FfnConfig.NoOp));
                Assert.Equal(block.parameters().Sum(p => p.numel()), record.Costs[$"attention.{a}"].Parameters);
            }
            foreach (var f in ffn)
            {
                using var block = new DecoderBlock(parent, new BlockConfig(AttentionConfig.NoOp, f));
                Assert.Equal(block.parameters().Sum(p => p.numel()), record.Costs[$"ffn.{f}"].Parameters);
            }
        }
    }
}
