using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Execution;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Cli;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>The compute device in the spec, on the CLI, in the keys, and the bfloat16 path, on the CPU that CI has.</summary>
[Collection(nameof(ConsoleCollection))]
public class DeviceTests
{
    /// <summary>Every planned job's key by its name.</summary>
    internal static Dictionary<string, string> Keys(PipelineSpec spec) =>
        PipelineGraph.Plan(spec, PuzzleStages.All()).Jobs.Values.SelectMany(j => j).ToDictionary(j => j.Name, j => j.Key);

    static string StageOf(string job) => job[..job.IndexOf('/')];

    [Fact]
    public void Keys_include_the_device_where_results_depend_on_it_and_nowhere_else()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var cpu = repo.Load();
        var onCpu = Keys(cpu);
        var onCuda = Keys(cpu with { Device = DeviceKind.Cuda });
        var changed = onCpu.Keys.Where(j => onCpu[j] != onCuda[j]).Select(StageOf).Distinct().Order().ToArray();
        Assert.Equal(["Distill", "Evaluate", "Export", "Heal", "Measure", "Pack", "Parent", "Publish", "Report", "Score", "Search", "Speed", "Sweep"], changed);
        Assert.All(onCpu.Keys.Where(j => StageOf(j) is "Tokenizer" or "Data"), j => Assert.Equal(onCpu[j], onCuda[j]));

        // trained on a GPU, measured on the CPU it will serve on: the costs are the CPU's, whatever trained the model
        var cpuTarget = Keys(cpu with { Device = DeviceKind.Cuda, Scenario = cpu.Scenario with { Device = DeviceKind.Cpu } });
        Assert.All(onCpu.Keys.Where(j => StageOf(j) == "Measure"), j => Assert.Equal(onCpu[j], cpuTarget[j]));
        // and timed there: the Speed job's config names the CPU (its key still moves with its inputs, trained on the GPU)
        Assert.All(PipelineGraph.Plan(cpu with { Device = DeviceKind.Cuda, Scenario = cpu.Scenario with { Device = DeviceKind.Cpu } }, PuzzleStages.All()).Jobs["Speed"],
            j => Assert.Equal("cpu", (string?)j.ConfigJson["scenario"]!["device"]));
        var gpuTarget = Keys(cpu with { Scenario = cpu.Scenario with { Device = DeviceKind.Cuda } });
        Assert.All(onCpu.Keys.Where(j => StageOf(j) == "Measure"), j => Assert.NotEqual(onCpu[j], gpuTarget[j]));
        Assert.Equal(onCpu["Parent/parent"], gpuTarget["Parent/parent"]);
    }

    [Fact]
    public void The_dtype_keys_jobs_only_where_it_is_not_the_devices_own()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var cpu = repo.Load();
        var onCpu = Keys(cpu);
        var onCuda = Keys(cpu with { Device = DeviceKind.Cuda });
        Assert.Equal(onCpu, Keys(cpu with { Dtype = ComputeDType.Float32 }));
        Assert.Equal(onCuda, Keys(cpu with { Device = DeviceKind.Cuda, Dtype = ComputeDType.Bfloat16 }));

        // bfloat16 on the CPU: every job whose result depends on the device moves, as on CUDA, and to other keys than CUDA's
        var bf16 = cpu with { Dtype = ComputeDType.Bfloat16 };
        var onCpuBf16 = Keys(bf16);
        Assert.Equal(onCpu.Keys.Where(j => onCpu[j] != onCuda[j]).Order(), onCpu.Keys.Where(j => onCpu[j] != onCpuBf16[j]).Order());
        Assert.All(onCpu.Keys.Where(j => onCpu[j] != onCuda[j]), j => Assert.NotEqual(onCuda[j], onCpuBf16[j]));
        var graph = PipelineGraph.Plan(bf16, PuzzleStages.All());
        Assert.All(graph.Jobs["Distill"], j => Assert.Equal("cpu-bfloat16", (string?)j.ConfigJson["device"]));
        Assert.All(graph.Jobs["Measure"], j => Assert.Equal(("cpu", "bfloat16"), ((string?)j.ConfigJson["scenario"]!["device"], (string?)j.ConfigJson["dtype"])));
        // float32 on CUDA: its own keys too
        var onCuda32 = Keys(cpu with { Device = DeviceKind.Cuda, Dtype = ComputeDType.Float32 });
        Assert.All(onCpu.Keys.Where(j => onCpu[j] != onCuda[j]), j => Assert.NotEqual(onCuda[j], onCuda32[j]));
        Assert.Equal("cuda-float32", ComputeDevice.KeyName(DeviceKind.Cuda, ComputeDType.Float32));
    }

    [Fact]
    public void A_cpu_spec_keys_its_jobs_as_before_devices_existed()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var graph = PipelineGraph.Plan(repo.Load(), PuzzleStages.All());
        Assert.All(graph.Jobs.Values.SelectMany(j => j), j => Assert.Null(j.ConfigJson["device"]));
        Assert.All(graph.Jobs["Measure"], j => Assert.Equal("cpu", (string?)j.ConfigJson["scenario"]!["device"]));
    }

    [Fact]
    public void The_cli_device_option_overrides_the_spec_for_planning_and_is_checked()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var (exit, cpuOut, _) = CliRunner.Run("graph", repo.SpecPath, "--json");
        Assert.Equal(0, exit);
        var (exit2, cudaOut, _) = CliRunner.Run("graph", repo.SpecPath, "--json", "--device", "cuda");
        Assert.Equal(0, exit2);
        var parentKey = Keys(repo.Load() with { Device = DeviceKind.Cuda })["Parent/parent"];
        Assert.Contains(parentKey, cudaOut);
        Assert.DoesNotContain(parentKey, cpuOut);
        var (bad, _, err) = CliRunner.Run("status", repo.SpecPath, "--device", "gpu");
        Assert.NotEqual(0, bad);
        Assert.Contains("gpu", err);
    }

    [Fact]
    public void Job_processes_are_told_the_override_so_they_plan_the_same_key()
    {
        Assert.Empty(Puzzle.Cli.Commands.PipelineOptions.JobArguments(null));
        Assert.Equal(["--device", "cuda"], Puzzle.Cli.Commands.PipelineOptions.JobArguments("cuda"));
        var script = Engine.Pipeline.Execution.Slurm.SlurmTaskScript.Text(["/opt/puzzle"], "/x/spec.yaml", "/x/store", "run1", ["--device", "cuda"]);
        Assert.Contains("--store '/x/store' '--device' 'cuda' >>", script);
    }

    [Fact]
    public async Task The_block_library_and_costs_work_in_bfloat16()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var session = PipelineSession.Open(repo.SpecPath);
        Assert.True((await session.RunAsync("Data", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
        Assert.True((await session.RunAsync("Parent", session.InProcessLauncher(), TextWriter.Null)).Succeeded);
        var modelDir = ParentStage.ModelDirectory(session.Store.Find(session.Graph.Find("Parent", "parent").Key)!.Directory);
        var data = Path.Combine(session.Store.Find(session.Graph.Jobs["Data"].Single().Key)!.Directory, DataStage.Folder);
        var config = Engine.Checkpoints.HfConfig.Read(modelDir);
        // what CUDA computes in, on the CPU: the same code path without the GPU
        var bf16 = ComputeDevice.Open(DeviceKind.Cpu, "test", ScalarType.BFloat16);
        using var parent = ParentStream.Open(modelDir, config, 1, bf16);
        Assert.Equal(ScalarType.BFloat16, parent.Layers[0].parameters().First().dtype);
        using var train = Engine.Data.TokenDataset.Open(data, Engine.Data.DataSplit.Train);
        using var heldout = Engine.Data.TokenDataset.Open(data, Engine.Data.DataSplit.Selection);
        var catalog = DistillStage.Catalog(config, session.Spec);
        var jobs = new[] { "layer0.ffn.ratio0.5", "layer0.attention.linear" }
            .Select(id => new BldJob(catalog.Single(v => v.Id == id), session.Spec.Bld.Options(id, config.HiddenSize))).ToList();
        foreach (var (job, result) in jobs.Zip(BlockDistiller.Distill(parent, jobs, train, heldout, TextWriter.Null, bf16)))
        {
            Assert.True(double.IsFinite(result.FinalNmse) && result.FinalNmse < 1, $"{job.Variant.Id}: final nmse {result.FinalNmse}");
            Assert.All(result.Weights.Values, w => Assert.Equal(ScalarType.BFloat16, w.dtype));
        }
        var shape = new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.NoOp);
        var scenario = session.Spec.Scenario with { Prompt = 8, Generate = 2, Repeats = 1, Warmup = 0 };
        var cost = CostMeter.Block(config, shape, scenario.Timing(), 1, bf16);
        var f32 = CostMeter.Block(config, shape, scenario.Timing(), 1);
        Assert.Equal(f32.ParameterBytes / 2, cost.ParameterBytes);
        Assert.Equal(f32.KvBytesPerToken / 2, cost.KvBytesPerToken);
    }
}
