using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Score reads the Data job's selection part, Evaluate its evaluation part: on the micro pipeline, with
/// token budgets above both parts, each stage's token count is its own part's size, and the two parts differ in size.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class HeldoutPartsPipelineTests
{
    [Fact]
    public async Task Score_measures_on_the_selection_part_and_Evaluate_on_the_evaluation_part()
    {
        var spec = TestRepo.MicroSpec.Replace("heldout_fraction: 0.1", "heldout_fraction: 0.3")
            .Replace("evaluation:\n  tokens: 400", "scoring:\n  tokens: 1000000\nevaluation:\n  tokens: 1000000\n  next_span: { examples: 0 }");
        using var repo = new TestRepo(spec);
        // a fifth, longer document: the two parts hold different amounts of text (four equal ones may split evenly)
        File.WriteAllText(Path.Combine(repo.Root, "text", "doc04.txt"), SyntheticText.Document(4, 150));
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Score", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));

        var data = DatasetManifest.Read(Path.Combine(session.Store.Find(session.Graph.Find("Data", "tokens").Key)!.Directory, DataStage.Folder));
        Assert.Equal(HeldoutParts.ByDocument, data.Split.Parts);
        Assert.NotEqual(data.Selection.Sequences, data.Evaluation.Sequences); // else the counts below could not tell the parts apart
        var seqLen = data.SeqLen;

        foreach (var job in session.Graph.Jobs["Score"])
        {
            var scores = JsonNode.Parse(File.ReadAllText(Path.Combine(session.Store.Find(job.Key)!.Directory, ScoreStage.ScoresFile)))!;
            Assert.Equal(data.Selection.Sequences * seqLen, (long)scores["tokens"]!);
        }
        // and each says it measured on less than it was asked for (all layers are scored in one process: one log)
        var scoreLog = File.ReadAllText(Path.Combine(repo.Store, "logs", "test", "Score", "layer0.log"));
        Assert.Contains($"warning: scoring.tokens is 1,000,000, but the selection part of the held-out text holds {data.Selection.Sequences * seqLen:N0} tokens", scoreLog);

        // the parent's Evaluate job, run here on its own (its other jobs need the whole search)
        using var output = new TempDir();
        var evaluate = session.Graph.Find("Evaluate", "parent");
        var evaluateLog = new StringWriter();
        evaluate.Stage.Run(new JobContext(evaluate, session.Spec, session.Store, output.Path, evaluateLog, threads: 2));
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(output.Path, EvaluateStage.MetricsFile)))!;
        Assert.Equal(data.Evaluation.Sequences * seqLen, (long)metrics["tokens"]!);
        Assert.Contains($"warning: evaluation.tokens is 1,000,000, but the evaluation part of the held-out text holds {data.Evaluation.Sequences * seqLen:N0} tokens", evaluateLog.ToString());
    }
}
