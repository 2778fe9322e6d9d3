using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The real stages on local text: tokenizer, token shards, a pretrained parent, its held-out evaluation; a killed
/// pretraining resumes on the same curve.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class ParentStageTests
{
    [Fact]
    public async Task The_pipeline_pretrains_a_real_language_model_and_saves_it_in_hugging_face_format()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("tokens: 3000, batch: 4", "tokens: 60000, batch: 8"));
        var session = PipelineSession.Open(repo.SpecPath);
        var summary = await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(summary.Succeeded, string.Join("\n", summary.Jobs.Select(j => $"{j.Stage}/{j.Job} {j.Outcome} {j.Log}")));
        Assert.Equal(["Tokenizer", "Data", "Parent"], summary.Jobs.Select(j => j.Stage));

        var parentJob = session.Store.Find(session.Graph.Find("Parent", "parent").Key)!;
        var model = ParentStage.ModelDirectory(parentJob.Directory);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json", ParentReport.FileName })
            Assert.True(File.Exists(Path.Combine(model, file)), file);
        var report = JsonSerializer.Deserialize<ParentReport>(File.ReadAllText(Path.Combine(model, ParentReport.FileName)), ParentReport.Json)!;

        // a real LM: it uses context, so it beats the best context-free (unigram) model of the same text
        Assert.True(report.Heldout.Loss < report.HeldoutUnigramEntropy - 0.5,
            $"held-out loss {report.Heldout.Loss:F3} vs unigram entropy {report.HeldoutUnigramEntropy:F3}");
        Assert.True(report.LossCurve[^1].Loss < report.LossCurve[0].Loss);
        Assert.False(string.IsNullOrWhiteSpace(report.SampleGreedy));
        Assert.Equal(report.Heldout.Loss, parentJob.Manifest.Metrics["heldout_loss"]!.GetValue<double>(), 9);

        var (config, tensors) = Checkpoint.Open(model);
        tensors.Dispose();
        Assert.True(config.IsHomogeneous);
        Assert.Equal(2, config.Blocks[0].Attention.KvHeads);

        // the saved checkpoint reproduces the reported held-out numbers through `eval`'s code path
        var dataset = Path.Combine(session.Store.Find(session.Graph.Find("Data", "tokens").Key)!.Directory, DataStage.Folder);
        var again = EvalJob.Run(new EvalRequest(model, null, [dataset], Batch: 8));
        Assert.Equal(report.Heldout.Loss, again.Metrics!.Loss, 4);
        Assert.Equal(report.Heldout.Tokens, again.Metrics!.Tokens);
    }

    [Fact]
    public void A_pretraining_killed_with_sigkill_resumes_from_its_last_checkpoint_and_ends_as_an_uninterrupted_run_does()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec.Replace("tokens: 3000, batch: 4", "tokens: 40000, batch: 4, checkpoint_every: 20"));
        var (exit, _, err) = Cli.Run(repo.Root, "run", repo.SpecPath, "--target", "Data");
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        var parent = session.Graph.Find("Parent", "parent");
        string[] job = ["job", repo.SpecPath, "--stage", "Parent", "--id", "parent", "--threads", "1"];

        var state = Path.Combine(session.Store.ResumeDirectory(parent.Key), "current", "state.json");
        Cli.KillOnceCheckpointed(repo.Root, job, state);
        Assert.Null(session.Store.Find(parent.Key));

        string output;
        (exit, output, err) = Cli.Run(repo.Root, job);
        Assert.True(exit == 0, err);
        var resumed = session.Store.Find(parent.Key)!;
        var step = resumed.Manifest.Metrics["resumed_from_step"]!.GetValue<long>();
        Assert.True(step >= 20 && step % 20 == 0, $"resumed from step {step}");
        Assert.Contains($"parent: resuming from the checkpoint at step {step}", output);
        Assert.Contains("pretrain: resumed at", output);
        Assert.False(Directory.Exists(session.Store.ResumeDirectory(parent.Key))); // checkpoints go once the result is published
        var model = ParentStage.ModelDirectory(resumed.Directory);
        var report = JsonSerializer.Deserialize<ParentReport>(File.ReadAllText(Path.Combine(model, ParentReport.FileName)), ParentReport.Json)!;
        Assert.Equal(step, report.ResumedFromStep);
        var resumedWeights = File.ReadAllBytes(Path.Combine(model, "model.safetensors"));

        // the same job from scratch, never interrupted
        Directory.Delete(resumed.Directory, recursive: true);
        (exit, _, err) = Cli.Run(repo.Root, job);
        Assert.True(exit == 0, err);
        var fresh = session.Store.Find(parent.Key)!;
        Assert.Null(fresh.Manifest.Metrics["resumed_from_step"]);
        var freshModel = ParentStage.ModelDirectory(fresh.Directory);
        var freshReport = JsonSerializer.Deserialize<ParentReport>(File.ReadAllText(Path.Combine(freshModel, ParentReport.FileName)), ParentReport.Json)!;
        Assert.Equal(freshReport.LossCurve, report.LossCurve);
        Assert.Equal(freshReport.Heldout, report.Heldout);
        Assert.Equal(resumedWeights, File.ReadAllBytes(Path.Combine(freshModel, "model.safetensors")));

        // how often state is saved is not in the key: the parent stays a hit
        repo.Edit("checkpoint_every: 20", "checkpoint_every: 7");
        Assert.Equal(parent.Key, PipelineSession.Open(repo.SpecPath).Graph.Find("Parent", "parent").Key);
    }
}
