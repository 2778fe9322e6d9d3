using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Pipeline;
using Puzzle.Engine.Tests.Spec;

namespace Puzzle.Engine.Tests.Library;

/// <summary>The Distill process's memory estimate, and the layers per process it chooses on a GPU.</summary>
public class BldMemoryTests
{
    // Llama-3.2-1B's and Llama-3.1-8B's shapes, with the scale check's search space: KV heads 4 and 2, FFN 0.5 and 0.25
    static readonly ModelConfig OneB = ModelConfig.Llama(128_256, 2048, 16, 32, 8, 8192, tie: true);
    static readonly ModelConfig EightB = ModelConfig.Llama(128_256, 4096, 32, 32, 8, 14_336);
    internal const long H200 = 150_754_820_096, H100 = 85_520_809_984; // the driver's totals: 143,771 MiB and 81,559 MiB

    static List<BlockVariant> Variants(ModelConfig parent, int? layer = null) =>
        Enumerable.Range(0, parent.NumLayers).Where(l => layer is null || l == layer).SelectMany(l => new[]
        {
            new BlockVariant(l, Subblock.Attention, AttentionConfig.Gqa(4), null, "kv4", false),
            new BlockVariant(l, Subblock.Attention, AttentionConfig.Gqa(2), null, "kv2", false),
            new BlockVariant(l, Subblock.Ffn, null, FfnConfig.SwiGlu(parent.Blocks[l].Ffn.IntermediateSize / 2), "ratio0.5", false),
            new BlockVariant(l, Subblock.Ffn, null, FfnConfig.SwiGlu(parent.Blocks[l].Ffn.IntermediateSize / 4), "ratio0.25", false),
        }).ToList();

    [Fact]
    public void The_estimate_gives_the_two_distill_peaks_it_was_fitted_to()
    {
        // H200, 2026-11-29: all 64 variants of the 1B shape in one process 25.4 GB; layer 0's 4 variants of the 8B shape 9.4 GB
        Assert.InRange(BldMemory.Estimate(OneB, Variants(OneB), 2, DeviceKind.Cuda) / 1e9, 25.4 * 0.97, 25.4 * 1.03);
        Assert.InRange(BldMemory.Estimate(EightB, Variants(EightB, layer: 0), 2, DeviceKind.Cuda) / 1e9, 9.4 * 0.97, 9.4 * 1.03);
        // float32 weights hold twice the parent's bytes and the same optimizer state
        Assert.True(BldMemory.Estimate(OneB, Variants(OneB), 4, DeviceKind.Cuda) > BldMemory.Estimate(OneB, Variants(OneB), 2, DeviceKind.Cuda));
    }

    /// <summary>
    /// On a CPU the estimate holds the peak RSS measured here (2026-12-01) of the default and moby-2x pipelines' Distill
    /// and Heal processes, with at most 1.2 GB to spare: what the GPU's fixed term holds (the CUDA context) a CPU process
    /// does not, and counting it would split both pipelines' layers and models over more processes on a 7 GB machine that
    /// runs two jobs at once.
    /// </summary>
    [Fact]
    public void On_a_cpu_the_estimate_holds_the_measured_peaks_of_the_example_pipelines_processes_and_keeps_them_together()
    {
        var quick = SpecLoader.Load(Path.Combine(Repository.Pipelines, "default.yaml"));
        var moby = SpecLoader.Load(Path.Combine(Repository.Pipelines, "moby-2x.yaml"));
        var (quickParent, mobyParent) = (ParentStage.PlannedConfig(quick), ParentStage.PlannedConfig(moby));
        var (quickVariants, mobyVariants) = (Trainable(quickParent, quick), Trainable(mobyParent, moby));
        long Heal(ModelConfig parent, int models) => Puzzle.Engine.Heal.HealGroups.Estimate(CostMeter.Parameters(parent), models, 4, DeviceKind.Cpu);
        (long Estimate, double Measured)[] peaks =
        [
            (BldMemory.Estimate(quickParent, quickVariants.Where(v => v.Layer < 2), 4, DeviceKind.Cpu), 0.368e9), // default: layers 0-1, 10 variants
            (BldMemory.Estimate(quickParent, quickVariants.Where(v => v.Layer >= 2), 4, DeviceKind.Cpu), 0.374e9),
            (Heal(quickParent, 2), 0.486e9), // default: two processes of two models
            (BldMemory.Estimate(mobyParent, mobyVariants, 4, DeviceKind.Cpu), 1.183e9), // moby-2x: 42 variants in one process
            (Heal(mobyParent, 3), 1.040e9), (Heal(mobyParent, 2), 0.942e9), // moby-2x: five models, 3 + 2
        ];
        foreach (var (estimate, measured) in peaks) Assert.InRange(estimate - measured, 0, 1.2e9);

        const long runner = 7_000_000_000; // a 2-core CI runner's 7 GB, two jobs at once: 3.15 GB each
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cpu ? runner : null);
        Assert.Equal(0, DistillStage.LayersPerProcess(moby with { })); // every layer in one process, as on this machine
        Assert.Equal(3, HealStage.ModelsPerProcess(moby with { }));
        Assert.Equal(2, HealStage.ModelsPerProcess(quick with { }));
        // the GPU's fixed term would have split them
        var share = PlanMemory.Share(moby)!.Value;
        Assert.True(BldMemory.Estimate(mobyParent, mobyVariants, 4, DeviceKind.Cuda) > share);
        Assert.True(Puzzle.Engine.Heal.HealGroups.Estimate(CostMeter.Parameters(quickParent), 2, 4, DeviceKind.Cuda) > share);
    }

    static List<BlockVariant> Trainable(ModelConfig parent, PipelineSpec spec) => [.. DistillStage.Catalog(parent, spec).Where(v => v.Trainable)];

    [Fact]
    public void Layers_per_process_are_the_most_whose_every_process_fits()
    {
        Assert.Equal(0, BldMemory.LayersPerProcess(OneB, Variants(OneB), 2, (long)(0.9 * H100), DeviceKind.Cuda)); // the 1B library in one process
        foreach (var gpu in new[] { H200, H100 })
        {
            var budget = (long)(0.9 * gpu);
            var n = BldMemory.LayersPerProcess(EightB, Variants(EightB), 2, budget, DeviceKind.Cuda);
            Assert.InRange(n, 1, EightB.NumLayers - 1); // the 8B library does not fit one process
            bool Fits(int perProcess) => Variants(EightB).GroupBy(v => v.Layer / perProcess).All(g => BldMemory.Estimate(EightB, g, 2, DeviceKind.Cuda) <= budget);
            Assert.True(Fits(n));
            var processes = (EightB.NumLayers + n - 1) / n;
            Assert.False(Fits(EightB.NumLayers / (processes - 1) + (EightB.NumLayers % (processes - 1) == 0 ? 0 : 1)), "one process fewer would fit too");
            Assert.Equal(n, (EightB.NumLayers + processes - 1) / processes); // the layers spread evenly
        }
        Assert.True(BldMemory.LayersPerProcess(EightB, Variants(EightB), 2, (long)(0.9 * H100), DeviceKind.Cuda) <
                    BldMemory.LayersPerProcess(EightB, Variants(EightB), 2, (long)(0.9 * H200), DeviceKind.Cuda));
        Assert.Equal(1, BldMemory.LayersPerProcess(EightB, Variants(EightB), 2, 1_000_000_000, DeviceKind.Cuda)); // nothing fits: one layer each
    }

    [Fact]
    public void Distill_chooses_them_by_the_devices_memory_where_the_spec_leaves_them_at_0()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var spec = SpecLoader.Load(repo.SpecPath) with { Dtype = ComputeDType.Float32 };
        var parent = ParentStage.PlannedConfig(spec);
        var variants = DistillStage.Catalog(parent, spec).Where(v => v.Trainable).ToList();
        long One(DeviceKind on) => BldMemory.Estimate(parent, variants.Where(v => v.Layer == 0), 4, on);
        long All(DeviceKind on) => BldMemory.Estimate(parent, variants, 4, on);
        Assert.True(All(DeviceKind.Cuda) > One(DeviceKind.Cuda));
        long? gpu = (long)(One(DeviceKind.Cuda) / 0.9) + 1, host = long.MaxValue / 4; // the GPU: room for one layer's process, not for all layers'
        using var pretend = PlanMemory.Pretend(kind => kind == DeviceKind.Cuda ? gpu : host);
        // each spec anew (with { }): a spec's choice is kept once made
        var (cuda, cpu) = (spec with { Device = DeviceKind.Cuda }, spec with { Device = DeviceKind.Cpu, Executor = spec.Executor with { Jobs = 2 } });
        Assert.Equal(1, DistillStage.LayersPerProcess(cuda with { }));
        Assert.Equal(0, DistillStage.LayersPerProcess(cpu with { })); // this machine's memory holds every layer
        Assert.Equal(3, DistillStage.LayersPerProcess(cuda with { Bld = cuda.Bld with { LayersPerProcess = 3 } })); // as the spec says
        host = 2 * ((long)(One(DeviceKind.Cpu) / 0.9) + 1); // two jobs at once on this machine, room for one layer's process each
        Assert.Equal(1, DistillStage.LayersPerProcess(cpu with { }));
        Assert.True(All(DeviceKind.Cpu) <= 2 * One(DeviceKind.Cpu)); // one job at a time: all of it
        Assert.Equal(0, DistillStage.LayersPerProcess(cpu with { Executor = cpu.Executor with { Jobs = 1 } }));
        gpu = (long)(All(DeviceKind.Cuda) / 0.9) + 1;
        Assert.Equal(0, DistillStage.LayersPerProcess(cuda with { }));
        Assert.Equal(1, DistillStage.LayersPerProcess(cuda with { Executor = cuda.Executor with { JobsPerGpu = 8 } })); // the GPU shared
        gpu = null; // no GPU to read: all layers
        Assert.Equal(0, DistillStage.LayersPerProcess(cuda with { }));
    }
}
