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
}
