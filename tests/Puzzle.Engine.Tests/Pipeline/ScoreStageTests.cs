using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Replace-1-block scores from the parent's stream, one layer per process or all layers in one.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class ScoreStageTests
{
    static async Task<Dictionary<string, string>> Scores(TestRepo repo)
    {
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Score", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        var scores = session.Graph.Jobs["Score"].ToDictionary(j => j.Id,
            j => File.ReadAllText(Path.Combine(session.Store.Find(j.Key)!.Directory, ScoreStage.ScoresFile)));
        foreach (var j in session.Graph.Jobs["Score"]) Directory.Delete(session.Store.Find(j.Key)!.Directory, recursive: true);
        return scores;
    }

    [Fact]
    public async Task Layers_scored_together_score_as_each_alone_and_record_block_influence()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var together = await Scores(repo);
        repo.Edit("bld:\n", "scoring:\n  layers_per_process: 1\nbld:\n"); // not in any key: the same jobs, one layer a process
        var alone = await Scores(repo);
        Assert.Equal(["layer0", "layer1"], together.Keys.Order());
        foreach (var (layer, json) in together) Assert.Equal(alone[layer], json);
        foreach (var json in together.Values)
        {
            var doc = System.Text.Json.Nodes.JsonNode.Parse(json)!;
            Assert.InRange((double)doc["block_influence"]!, 1e-6, 2);
            Assert.True(doc["variants"]!.AsObject().Count >= 4);
        }
    }

    [Fact]
    public async Task Combined_scoring_writes_a_score_for_every_pairing_and_a_pairing_with_a_parent_half_scores_as_its_subblock()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var subblockKeys = PipelineSession.Open(repo.SpecPath).Graph.Jobs["Score"].Select(j => j.Key).ToList();
        var subblocks = await Scores(repo);
        repo.Edit("bld:\n", "scoring:\n  blocks: combined\nbld:\n");
        var session = PipelineSession.Open(repo.SpecPath);
        Assert.Empty(session.Graph.Jobs["Score"].Select(j => j.Key).Intersect(subblockKeys)); // the mode is in every Score key
        var combined = await Scores(repo);
        var spec = repo.Load();
        var parent = ParentStage.PlannedConfig(spec);
        foreach (var (layer, json) in combined)
        {
            var l = int.Parse(layer["layer".Length..]);
            var scored = System.Text.Json.Nodes.JsonNode.Parse(json)!["variants"]!.AsObject();
            var pairs = Engine.Library.VariantCatalog.Pairs(parent, spec.SearchSpace.Alternatives).Where(p => p.Block.Layer == l).ToList();
            Assert.Equal(4 * 5 - 1, scored.Count); // kv2 (the parent's), kv1, linear, no_op × ratio1, 0.5, 0.25, linear, no_op
            Assert.Equal(pairs.Where(p => !p.Block.IsParent).Select(p => p.Block.Id).Order(), scored.Select(p => p.Key).Order());
            var single = System.Text.Json.Nodes.JsonNode.Parse(subblocks[layer])!["variants"]!;
            foreach (var p in pairs.Where(p => p.Attention.IsParent != p.Ffn.IsParent))
            {
                // the parent's attention with an FFN variant is the FFN variant alone (and the other way round): same weights, same score
                var alone = p.Attention.IsParent ? p.Ffn : p.Attention;
                Assert.Equal((double)single[alone.Id]!["kl"]!, (double)scored[p.Block.Id]!["kl"]!, 6);
            }
            Assert.True((double)scored[$"layer{l}.block.no_op+no_op"]!["kl"]! > 0);
        }
    }
}
