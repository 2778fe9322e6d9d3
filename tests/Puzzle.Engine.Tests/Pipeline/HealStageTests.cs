using System.Text.Json;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Assembly and global distillation through the real stages: a killed GKD job resumes on the same curve.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class HealStageTests
{
    // modelled (roofline) costs: the search's choice does not depend on how loaded this machine is; activation
    // checkpointing, so that its re-run blocks go through a real job (the other pipelines' Heal jobs run without)
    static readonly string Spec = TestRepo.MicroSpec.Replace("evaluation:\n  tokens: 400", "evaluation:\n  tokens: 400\n  baselines: [uniform]")
        + "\nscenario: { target: h100-sxm, batch: 2, prompt: 16, generate: 4 }\ngkd: { tokens: 96000, batch: 8, checkpoint_every: 20, checkpoint_activations: true }\n";

    [Fact]
    public async Task A_gkd_job_killed_with_sigkill_resumes_from_its_last_checkpoint_and_ends_as_an_uninterrupted_run_does()
    {
        using var repo = new TestRepo(Spec);
        var session = PipelineSession.Open(repo.SpecPath);
        var upstream = await session.RunAsync("Search", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(upstream.Succeeded, string.Join("\n", upstream.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        var heal = session.Graph.Find("Heal", "child1");
        string[] job = ["job", repo.SpecPath, "--stage", "Heal", "--id", "child1", "--threads", "1"];

        var state = Path.Combine(session.Store.ResumeDirectory(heal.Key), "current", "state.json");
        Cli.KillOnceCheckpointed(repo.Root, job, state);
        Assert.Null(session.Store.Find(heal.Key));

        var (exit, _, err) = Cli.Run(repo.Root, job);
        Assert.True(exit == 0, err);
        var resumed = session.Store.Find(heal.Key)!;
        var report = JsonDocument.Parse(File.ReadAllText(resumed.File(HealStage.HealFile))).RootElement.GetProperty("gkd");
        Assert.True(report.GetProperty("resumed_from_step").GetInt64() >= 20, report.ToString());
        Assert.False(Directory.Exists(session.Store.ResumeDirectory(heal.Key))); // checkpoints go once the result is published
        var resumedCurve = File.ReadAllText(resumed.File(HealStage.CurveFile));
        var resumedWeights = File.ReadAllBytes(Path.Combine(resumed.Directory, HealStage.ModelFolder, "model.safetensors"));
        // GKD moved the child towards the parent
        Assert.True(report.GetProperty("after").GetProperty("kl").GetDouble() < report.GetProperty("before").GetProperty("kl").GetDouble(), report.ToString());

        // the same job from scratch, never interrupted
        Directory.Delete(resumed.Directory, recursive: true);
        (exit, _, err) = Cli.Run(repo.Root, job);
        Assert.True(exit == 0, err);
        var fresh = session.Store.Find(heal.Key)!;
        Assert.Equal(["load and assemble", "check before", "train (with held-out checks)", "check after and save"],
            fresh.Manifest.Metrics["phase_seconds"]!.AsObject().Select(p => p.Key));
        Assert.Equal(resumedCurve, File.ReadAllText(fresh.File(HealStage.CurveFile)));
        Assert.Equal(resumedWeights, File.ReadAllBytes(Path.Combine(fresh.Directory, HealStage.ModelFolder, "model.safetensors")));
    }
}
