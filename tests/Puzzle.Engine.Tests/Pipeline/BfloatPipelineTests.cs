using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// A micro pipeline with <c>dtype: bfloat16</c> on the CPU, through the real CLI (a process per job) to Publish: what
/// CUDA computes in, every stage of it, on the machine CI has. Every job that computes says it ran in bfloat16, the
/// block library is stored in bfloat16, and the report compares the child with the parent in finite numbers.
/// </summary>
[Trait("Category", "Slow")] // whole pipelines or processes: not in the fast subset
public class BfloatPipelineTests
{
    [Fact]
    public void A_pipeline_runs_in_bfloat16_on_the_cpu_from_parent_to_publish()
    {
        // GKD with activation checkpointing and a bfloat16 export, as the scale check heals and exports the 8B shape's child
        using var repo = new TestRepo("dtype: bfloat16\n" + TestRepo.MicroSpec + "\ngkd: { checkpoint_activations: true }\nexport: { dtype: bfloat16 }\n");
        var run = Cli.Run(repo.Root, "run", repo.SpecPath);
        Assert.True(run.Exit == 0, run.Out + run.Err);

        var manifests = Directory.EnumerateFiles(Path.Combine(repo.Store, "cache"), JobManifest.FileName, SearchOption.AllDirectories)
            .Select(p => (Path: p, Manifest: JobManifest.TryRead(p)!)).ToList();
        var computed = manifests.Where(m => m.Manifest.Metrics?["device"] is not null).ToList();
        Assert.Equal(["Distill", "Evaluate", "Heal", "Measure", "Parent", "Score", "Search", "Speed", "Sweep"],
            computed.Select(m => m.Manifest.Stage).Distinct().Order());
        Assert.All(computed, m => Assert.Equal("cpu (bfloat16)", (string?)m.Manifest.Metrics!["device"]));

        var library = manifests.Where(m => m.Manifest.Stage == "Distill").Select(m => Path.Combine(Path.GetDirectoryName(m.Path)!, DistillStage.WeightsFile))
            .Where(File.Exists).ToList();
        Assert.NotEmpty(library);
        foreach (var path in library)
        {
            using var file = SafeTensorsFile.Open(path);
            Assert.All(file.Names, n => Assert.Equal(TensorDType.BF16, file.Info(n).DType));
        }

        var session = PipelineSession.Open(repo.SpecPath);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(session.Store.Find(session.Graph.Find("Report", "report").Key)!.Directory, "report.json")))!;
        Assert.EndsWith(", bfloat16", (string?)report["scenario"]!["measured_on"]); // the speeds say what they were timed in
        var child = report["models"]!.AsArray().Single(m => (string?)m!["name"] == "child1")!;
        Assert.True(double.IsFinite((double)child["loss"]!) && (double)child["kl"]! >= 0, child.ToJsonString());
        Assert.Single(Directory.GetFiles(Path.Combine(repo.Root, "artifacts", "feed"), "*.nupkg"));
        using var exported = SafeTensorsFile.Open(Path.Combine(repo.Root, "artifacts", "test", "export", "child1", "model", "model.safetensors"));
        Assert.All(exported.Names, n => Assert.Equal(TensorDType.BF16, exported.Info(n).DType));
    }
}
