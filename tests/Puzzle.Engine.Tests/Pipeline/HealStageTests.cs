using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>Assembly and global distillation through the real stages: a killed GKD job resumes on the same curve.</summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class HealStageTests
{
    // modelled (roofline) costs: the search's choice does not depend on how loaded this machine is; activation
    // checkpointing, so that its re-run blocks go through a real job (the other pipelines' Heal jobs run without)
    static readonly string Spec = TestRepo.MicroSpec.Replace("evaluation:\n  tokens: 400", "evaluation:\n  tokens: 400\n  baselines: [uniform]")
        + "\nscenario: { target: h100-sxm, batch: 2, prompt: 16, generate: 4 }\ngkd: { tokens: 96000, batch: 8, checkpoint_every: 20, checkpoint_activations: true }\n";

    /// <summary>The child and the uniform baseline heal in one process (<c>gkd.models_per_process: 2</c>): the process
    /// is killed once both have checkpointed, and both resume.</summary>
    [Fact]
    public async Task A_gkd_job_killed_with_sigkill_resumes_from_its_last_checkpoint_and_ends_as_an_uninterrupted_run_does()
    {
        using var repo = new TestRepo(Spec.Replace("checkpoint_activations: true }", "checkpoint_activations: true, models_per_process: 2 }"));
        var session = PipelineSession.Open(repo.SpecPath);
        var upstream = await session.RunAsync("Search", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(upstream.Succeeded, string.Join("\n", upstream.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));
        var heal = session.Graph.Find("Heal", "child1");
        string[] job = ["job", repo.SpecPath, "--stage", "Heal", "--id", "child1", "--threads", "1"];

        // the group saves child1's checkpoint, then uniform's, at the same step: once uniform's is there, both are
        var state = Path.Combine(session.Store.ResumeDirectory(session.Graph.Find("Heal", "uniform").Key), "current", "state.json");
        Cli.KillOnceCheckpointed(repo.Root, job, state);
        Assert.Null(session.Store.Find(heal.Key));

        var (exit, _, err) = Cli.Run(repo.Root, job);
        Assert.True(exit == 0, err);
        var resumed = session.Store.Find(heal.Key)!;
        var report = JsonDocument.Parse(File.ReadAllText(resumed.File(HealStage.HealFile))).RootElement.GetProperty("gkd");
        Assert.True(report.GetProperty("resumed_from_step").GetInt64() >= 20, report.ToString());
        var uniform = session.Store.Find(session.Graph.Find("Heal", "uniform").Key)!;
        Assert.Equal("child1", uniform.Manifest.Metrics["built_with"]!.GetValue<string>());
        Assert.True(JsonDocument.Parse(File.ReadAllText(uniform.File(HealStage.HealFile))).RootElement.GetProperty("gkd").GetProperty("resumed_from_step").GetInt64() >= 20);
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
        // the check after training is the held-out check of the published weights, taken or made again, the same either way
        var freshReport = JsonDocument.Parse(File.ReadAllText(fresh.File(HealStage.HealFile))).RootElement.GetProperty("gkd");
        Assert.Equal(report.GetProperty("after").ToString(), freshReport.GetProperty("after").ToString());
        var best = freshReport.GetProperty("best_step").GetInt64();
        Assert.Equal(freshReport.GetProperty("heldout_curve").EnumerateArray().Single(p => p.GetProperty("step").GetInt64() == best).GetProperty("loss").GetDouble(),
            freshReport.GetProperty("after").GetProperty("kl").GetDouble());
        Assert.Equal(resumedWeights, File.ReadAllBytes(Path.Combine(fresh.Directory, HealStage.ModelFolder, "model.safetensors")));
    }

    /// <summary>Where the device holds the parent's weights (all the pre-launch check counts) but not a model's training
    /// state beside them, each Heal job fails before it loads the parent, saying what it would hold and what fits, and
    /// publishes nothing.</summary>
    [Fact]
    public async Task A_heal_job_whose_models_cannot_fit_fails_before_loading_saying_so_and_publishes_nothing()
    {
        using var repo = new TestRepo(Spec);
        var session = PipelineSession.Open(repo.SpecPath);
        var upstream = await session.RunAsync("Search", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(upstream.Succeeded, string.Join("\n", upstream.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));

        var parentBytes = CostMeter.Parameters(ParentStage.PlannedConfig(session.Spec)) * ComputeDevice.ElementBytesOn(DeviceKind.Cpu, session.Spec.Dtype);
        RunSummary heal;
        using (PlanMemory.Pretend(_ => parentBytes + 1000))
            heal = await session.RunAsync("Heal", session.InProcessLauncher(), TextWriter.Null);
        Assert.Equal(["child1", "uniform"], heal.Where(JobOutcome.Failed).Select(j => j.Job));
        foreach (var failed in heal.Where(JobOutcome.Failed))
        {
            var log = File.ReadAllText(failed.Log!);
            Assert.Contains($"Healing {failed.Job} in one process needs at least ", log);
            Assert.Contains($"more than this machine's {StoreUsage.Human(parentBytes + 1000)}: the parent's weights, ", log);
            Assert.DoesNotContain("load and assemble", log); // refused before loading
        }
        Assert.All(session.Graph.Jobs["Heal"], j => Assert.Null(session.Store.Find(j.Key)));
    }

    /// <summary>
    /// With <c>gkd.train_embeddings: false</c> the healed child publishes the parent's embeddings and LM head bit for bit
    /// while its blocks move, under a key of its own (the setting trains other weights), and says in its log what it
    /// holds frozen.
    /// </summary>
    [Fact]
    public async Task With_frozen_embeddings_the_child_keeps_the_parents_embeddings_and_head_and_trains_its_blocks()
    {
        using var repo = new TestRepo(Spec.Replace("checkpoint_activations: true }", "checkpoint_activations: true, train_embeddings: false }"));
        var session = PipelineSession.Open(repo.SpecPath);
        using var other = new TestRepo(Spec);
        var trained = PipelineSession.Open(other.SpecPath).Graph.Find("Heal", "child1").Key;
        var heal = session.Graph.Find("Heal", "child1");
        Assert.NotEqual(trained, heal.Key);
        var run = await session.RunAsync("Heal", session.InProcessLauncher(), TextWriter.Null);
        Assert.True(run.Succeeded, string.Join("\n", run.Where(JobOutcome.Failed).Select(j => File.ReadAllText(j.Log!))));

        var entry = session.Store.Find(heal.Key)!;
        var parentDir = ParentStage.ModelDirectory(session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Directory);
        using var parent = Puzzle.Engine.Checkpoints.SafeTensorsFile.Open(Directory.GetFiles(parentDir, "*.safetensors").Single());
        using var child = Puzzle.Engine.Checkpoints.SafeTensorsFile.Open(Path.Combine(entry.Directory, HealStage.ModelFolder, "model.safetensors"));
        var frozen = child.Names.Where(n => n is "model.embed_tokens.weight" or "lm_head.weight").ToList();
        Assert.NotEmpty(frozen);
        foreach (var name in frozen) Assert.True(parent.Read(name).eq(child.Read(name)).all().item<bool>(), $"{name} moved");
        var report = JsonDocument.Parse(File.ReadAllText(entry.File(HealStage.HealFile))).RootElement.GetProperty("gkd");
        Assert.True(report.GetProperty("best_step").GetInt64() > 0, report.ToString()); // it published trained weights
        Assert.Contains(child.Names, n => n.StartsWith("model.layers.", StringComparison.Ordinal) && parent.Contains(n) && !parent.Read(n).eq(child.Read(n)).all().item<bool>());
        Assert.Contains(" frozen per model (the parent's), with what comes on top", File.ReadAllText(Path.Combine(repo.Store, "logs", "test", "Heal", "child1.log")));
    }

    /// <summary>
    /// The child and the uniform baseline healed in one process (<c>gkd.models_per_process: 2</c>: one parent pass per
    /// batch for both), and then evaluated in one, publish under the same keys the same bytes as each healed and
    /// evaluated in a process of its own, through the real CLI and its executor. A model that saw another's batches, the
    /// parent's pass of another batch, or another model's held-out checks or sequences would differ.
    /// </summary>
    [Fact]
    public void Models_healed_together_publish_what_each_publishes_healed_alone()
    {
        var together = Spec.Replace("checkpoint_activations: true }", "checkpoint_activations: true, models_per_process: 2 }");
        Assert.NotEqual(Spec, together);
        using var repo = new TestRepo(together);
        var (exit, _, err) = Cli.Run(repo.Root, ["run", repo.SpecPath, "--target", "Evaluate"]);
        Assert.True(exit == 0, err);
        var session = PipelineSession.Open(repo.SpecPath);
        var jobs = session.Graph.Jobs["Heal"].Concat(session.Graph.Jobs["Evaluate"].Where(j => j.Id != "parent")).ToList();
        Assert.Equal(["child1", "uniform", "child1", "uniform"], jobs.Select(j => j.Id));
        var built = jobs.Select(j => session.Store.Find(j.Key)!).ToList();
        Assert.All(built.Take(2), e => Assert.Equal(2, e.Manifest.Metrics["trained_together"]!.GetValue<int>()));
        Assert.All(built.Skip(2), e => Assert.Equal(2, e.Manifest.Metrics["evaluated_together"]!.GetValue<int>()));
        Assert.Equal(built[0].Manifest.RunId, built[1].Manifest.RunId);
        Assert.Equal("child1", built[1].Manifest.Metrics["built_with"]!.GetValue<string>());
        Assert.Equal("child1", built[3].Manifest.Metrics["built_with"]!.GetValue<string>());
        // the process's estimated peak, the same in both models' manifests, beside the measured one (and in the log)
        var estimate = built[0].Manifest.Metrics["estimated_rss_bytes"]!.GetValue<long>();
        Assert.Equal(estimate, built[1].Manifest.Metrics["estimated_rss_bytes"]!.GetValue<long>());
        Assert.True(estimate > 0 && built[0].Manifest.Metrics["peak_rss_bytes"]!.GetValue<long>() > 0);
        Assert.Contains("child1 and uniform: about ", File.ReadAllText(Path.Combine(repo.Store, "logs", "test", "Heal", "child1.log")));
        // every file's SHA-256, and heal.json as it reads without its timings (seconds, tokens per second)
        static string[] Files(Puzzle.Engine.Pipeline.Cache.CacheEntry e) =>
        [
            .. e.Manifest.Files.Where(f => f.Key != HealStage.HealFile).OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => $"{f.Key} {f.Value}"),
            .. e.Manifest.Files.ContainsKey(HealStage.HealFile) ? [Untimed(e.File(HealStage.HealFile))] : Array.Empty<string>(),
        ];
        static string Untimed(string healJson)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(healJson))!;
            node["gkd"]!.AsObject().Remove("seconds");
            node["gkd"]!.AsObject().Remove("tokens_per_s");
            return node.ToJsonString();
        }
        var files = built.Select(Files).ToList();
        Assert.NotEqual(files[0], files[1]);
        Assert.Contains(files[0], f => f.StartsWith("model/model.safetensors ", StringComparison.Ordinal));
        Assert.Contains(files[2], f => f.StartsWith("metrics.json ", StringComparison.Ordinal));

        // one process each: the same keys (a memory knob), built again
        File.WriteAllText(repo.SpecPath, File.ReadAllText(repo.SpecPath).Replace("models_per_process: 2", "models_per_process: 1"));
        foreach (var e in built) Directory.Delete(e.Directory, recursive: true);
        (exit, _, err) = Cli.Run(repo.Root, ["run", repo.SpecPath, "--target", "Evaluate"]);
        Assert.True(exit == 0, err);
        session = PipelineSession.Open(repo.SpecPath);
        Assert.Equal(jobs.Select(j => j.Key), session.Graph.Jobs["Heal"].Concat(session.Graph.Jobs["Evaluate"].Where(j => j.Id != "parent")).Select(j => j.Key));
        var alone = jobs.Select(j => session.Store.Find(j.Key)!).ToList();
        Assert.All(alone.Take(2), e => Assert.Equal(1, e.Manifest.Metrics["trained_together"]!.GetValue<int>()));
        Assert.All(alone.Skip(2), e => Assert.Equal(1, e.Manifest.Metrics["evaluated_together"]!.GetValue<int>()));
        for (var i = 0; i < jobs.Count; i++) Assert.Equal(files[i], Files(alone[i]));
    }
}
