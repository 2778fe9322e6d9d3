using Puzzle.Engine.Cost;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Tests.Pipeline;

namespace Puzzle.Engine.Tests.Heal;

/// <summary>How many models one Heal process trains together, and which.</summary>
public class HealGroupsTests
{
    static readonly long OneB = CostMeter.Parameters(ModelConfig.Llama(128_256, 2048, 16, 32, 8, 8192, tie: true));
    static readonly long EightB = CostMeter.Parameters(ModelConfig.Llama(128_256, 4096, 32, 32, 8, 14_336));
    const long H200 = Library.BldMemoryTests.H200, H100 = Library.BldMemoryTests.H100;

    /// <summary>
    /// The GPU estimate against the Heal processes measured on an H200 (2026-12-04, benchmarks/results/
    /// scale-h200-2026-12-04-publish.json, each process's own peak): never under a measured peak, and within 6% of it.
    /// </summary>
    [Fact]
    public void A_heal_process_on_a_gpu_is_estimated_at_or_just_above_its_measured_peak()
    {
        (long ParentParameters, long Trained, double Measured)[] peaks =
        [
            (8_030_261_248, 5_605_834_752, 148_966_998_016), // the 8B shape's 1.5x child alone, activations checkpointed
            (1_235_814_400, 1_471_232_000, 38_077_988_864),  // the 1B shape's child1 and uniform in one process
            (1_235_814_400, 1_511_612_416, 37_773_901_824),  // the 1B shape's ShortGPT and random in one process
        ];
        foreach (var (parent, trained, measured) in peaks)
        {
            var estimate = HealGroups.Of(parent * 2, trained, 2, DeviceKind.Cuda);
            Assert.InRange(estimate / measured, 1.0, 1.06);
            Assert.True(BldMemory.Of(parent * 2, trained, DeviceKind.Cuda, 14) < measured); // Distill's fit fell short of every one
        }
    }

    [Fact]
    public void Models_spread_over_the_jobs_that_run_at_once_within_the_memory()
    {
        const long plenty = long.MaxValue / 4;
        Assert.Equal(2, HealGroups.PerProcess(4, 2, 1000, 4, plenty, DeviceKind.Cpu)); // the default pipeline on a CPU: two processes of two
        Assert.Equal(4, HealGroups.PerProcess(4, 1, 1000, 4, plenty, DeviceKind.Cpu));
        Assert.Equal(1, HealGroups.PerProcess(4, 4, 1000, 4, plenty, DeviceKind.Cpu)); // every model has a job of its own
        Assert.Equal(2, HealGroups.PerProcess(3, 2, 1000, 4, plenty, DeviceKind.Cpu));
        Assert.Equal(1, HealGroups.PerProcess(1, 1, 1000, 4, plenty, DeviceKind.Cpu));
        Assert.Equal(1, HealGroups.PerProcess(4, 1, 1000, 4, null, DeviceKind.Cpu)); // memory unknown: one each, as before

        // memory for three models of the parent's size, not four: two processes, the models spread evenly (2 + 2, not 3 + 1)
        var three = HealGroups.Estimate(1_000_000, 3, 4, DeviceKind.Cpu);
        Assert.Equal(2, HealGroups.PerProcess(4, 1, 1_000_000, 4, three, DeviceKind.Cpu));
        Assert.Equal(3, HealGroups.PerProcess(3, 1, 1_000_000, 4, three, DeviceKind.Cpu));
        Assert.Equal(1, HealGroups.PerProcess(4, 1, 1_000_000, 4, HealGroups.Estimate(1_000_000, 1, 4, DeviceKind.Cpu) - 1, DeviceKind.Cpu)); // not even one: one each
    }

    [Fact]
    public void A_1b_shapes_models_pair_up_on_an_h200_shared_by_two_jobs_and_an_8b_shapes_train_alone()
    {
        // the 1B scale spec: two jobs at once, two on the GPU; each model counted at the parent's size in bfloat16
        Assert.Equal(2, HealGroups.PerProcess(4, 2, OneB, 2, (long)(0.9 * H200 / 2), DeviceKind.Cuda));
        Assert.Equal(1, HealGroups.PerProcess(4, 2, OneB, 2, (long)(0.9 * H100 / 2), DeviceKind.Cuda));
        Assert.Equal(2, HealGroups.PerProcess(4, 1, OneB, 2, (long)(0.9 * H100), DeviceKind.Cuda));
        Assert.Equal(1, HealGroups.PerProcess(4, 1, EightB, 2, (long)(0.9 * H200), DeviceKind.Cuda));
    }

    [Fact]
    public void The_stage_groups_its_models_in_the_order_of_their_ids_as_the_spec_and_executor_say()
    {
        using var repo = new TestRepo(TestRepo.MicroSpec);
        var spec = SpecLoader.Load(repo.SpecPath) with { Device = DeviceKind.Cpu };
        Assert.Equal(["child1", "uniform", "shortgpt", "random"], HealStage.ModelIds(spec));
        Assert.Equal(2, HealStage.ModelsPerProcess(spec)); // four models, two jobs at once, a small parent in this machine's memory
        Assert.Equal(1, HealStage.ModelsPerProcess(spec with { Executor = spec.Executor with { Jobs = 4 } }));
        Assert.Equal(1, HealStage.ModelsPerProcess(spec with { Executor = spec.Executor with { Kind = ExecutorKind.Slurm } }));
        Assert.Equal(3, HealStage.ModelsPerProcess(spec with { Gkd = spec.Gkd with { ModelsPerProcess = 3 } }));

        var session = Puzzle.Engine.Pipeline.PipelineSession.Open(repo.SpecPath);
        var heal = session.Graph.Jobs["Heal"];
        var stage = heal[0].Stage;
        string[] Companions(string id) => [.. stage.Companions(heal.Single(j => j.Id == id), heal, session.Spec).Select(j => j.Id).Order()];
        Assert.Equal(["uniform"], Companions("child1"));
        Assert.Equal(["child1"], Companions("uniform"));
        Assert.Equal(["random"], Companions("shortgpt"));
        var alone = session.Spec with { Gkd = session.Spec.Gkd with { ModelsPerProcess = 1 } };
        Assert.Empty(stage.Companions(heal[0], heal, alone));
    }

    /// <summary>
    /// Once Search has chosen, a Heal process counts what its models hold before it loads the parent: an 8B shape's child
    /// with every FFN halved (5.21B parameters: 73 GB of weights and training state beside the parent's 16 GB) is refused
    /// on an 80 GB GPU, naming the largest child that would fit, and heals on an H200; two 1B shapes' models that fit one
    /// at a time are told to heal one per process.
    /// </summary>
    [Fact]
    public void A_group_that_cannot_hold_its_models_is_refused_before_loading_saying_what_would_fit()
    {
        var eightB = ModelConfig.Llama(128_256, 4096, 32, 32, 8, 14_336);
        var child = ModelConfig.Llama(128_256, 4096, 32, 32, 8, 7_168);
        Assert.Null(HealStage.TooLarge(eightB, [("child1", child)], DeviceKind.Cuda, 2, H200));
        Assert.Null(HealStage.TooLarge(eightB, [("child1", child)], DeviceKind.Cuda, 2, null)); // memory unknown: not checked

        var why = HealStage.TooLarge(eightB, [("child1", child)], DeviceKind.Cuda, 2, H100)!;
        Assert.StartsWith("Healing child1 in one process needs at least 82.91 GiB, more than the GPU's 79.65 GiB: " +
                          "the parent's weights, 8.03B parameters in bfloat16, 14.96 GiB plus child1's weights and training state, 5.21B parameters at 14 bytes each, 67.95 GiB.", why);
        Assert.Contains("A model of at most 4.96B parameters (0.61 of the parent's) fits in a process of its own: constraints.params_vs_parent: 0.61 makes the search choose such a child.", why);
        Assert.Contains("nothing was published", why);
        Assert.EndsWith(" Or keep the embeddings and the LM head as the parent's (1.05B parameters each model does not train), and these fit as they are: " +
                        "gkd.train_embeddings: false. docs/scale.md (\"What fits where\") gives what each parent size needs; nothing was published.", why);
        // the fraction named fits, and one hundredth more would not
        Assert.True(HealGroups.Least(EightB, [(long)(0.61 * EightB)], 2) <= H100);
        Assert.True(HealGroups.Least(EightB, [(long)(0.63 * EightB)], 2) > H100);

        // two 1B-shaped models (the parent itself, 1.24B, and a child) that fit one at a time but not together
        var oneB = ModelConfig.Llama(128_256, 2048, 16, 32, 8, 8192, tie: true);
        var small = ModelConfig.Llama(128_256, 2048, 16, 32, 8, 4096, tie: true);
        var memory = HealGroups.Least(OneB, [OneB], 2) + 1;
        Assert.Null(HealStage.TooLarge(oneB, [("child1", oneB)], DeviceKind.Cuda, 2, memory));
        why = HealStage.TooLarge(oneB, [("child1", oneB), ("uniform", small)], DeviceKind.Cuda, 2, memory)!;
        Assert.StartsWith("Healing child1 and uniform in one process needs at least ", why);
        Assert.Contains(" Each fits in a process of its own: set gkd.models_per_process: 1.", why);
        // on this machine's memory, said so
        Assert.Contains("more than this machine's ", HealStage.TooLarge(oneB, [("child1", oneB)], DeviceKind.Cpu, 4, HealGroups.Least(OneB, [OneB], 4) - 1));
    }

    /// <summary>
    /// With <c>gkd.train_embeddings: false</c> a model's embeddings and LM head are the parent's tensors and hold nothing
    /// of their own: the 8B shape's untied ones are 1.05B parameters, so its 5.21B-parameter child (14.96 GiB of parent,
    /// 4.16B trained parameters at 14 bytes: 69.2 GiB) passes an 80 GB GPU's count; a tied 1B shape's are 263M, counted once.
    /// </summary>
    [Fact]
    public void Frozen_embeddings_are_the_parents_and_fit_an_8b_child_on_an_80_gb_gpu()
    {
        var eightB = ModelConfig.Llama(128_256, 4096, 32, 32, 8, 14_336);
        var child = ModelConfig.Llama(128_256, 4096, 32, 32, 8, 7_168);
        var frozen = HealGroups.Frozen(eightB, trainEmbeddings: false);
        Assert.Equal(2L * 128_256 * 4096, frozen);
        Assert.Equal(0, HealGroups.Frozen(eightB, trainEmbeddings: true));
        Assert.Equal(128_256L * 2048, HealGroups.Frozen(ModelConfig.Llama(128_256, 2048, 16, 32, 8, 8192, tie: true), trainEmbeddings: false));
        var childParameters = CostMeter.Parameters(child);
        Assert.Equal((childParameters - frozen) * 14, HealGroups.ModelBytes(childParameters, frozen, 2));
        Assert.Equal(EightB * 2 + HealGroups.ModelBytes(childParameters, frozen, 2), HealGroups.Least(EightB, [childParameters], 2, frozen));
        Assert.Equal(69.21, HealGroups.Least(EightB, [childParameters], 2, frozen) / (double)(1L << 30), 2);
        Assert.Null(HealStage.TooLarge(eightB, [("child1", child)], DeviceKind.Cuda, 2, H100, trainEmbeddings: false));

        // the most a model may have, its frozen part included, fills the memory and one more trained parameter would not fit
        var most = HealGroups.MostParameters(EightB, 2, H100, frozen);
        Assert.True(HealGroups.Least(EightB, [most], 2, frozen) <= H100);
        Assert.True(HealGroups.Least(EightB, [most + 1], 2, frozen) > H100 - 14);
        Assert.Equal(0, HealGroups.MostParameters(EightB, 2, EightB * 2 - 1, frozen));

        // where even that does not fit, the refusal counts the frozen weights apart and suggests nothing it already does
        var why = HealStage.TooLarge(eightB, [("child1", child)], DeviceKind.Cuda, 2, 60L << 30, trainEmbeddings: false)!;
        Assert.Contains("child1's weights and training state, 4.16B trained parameters at 14 bytes each and 1.05B frozen (the parent's), ", why);
        Assert.DoesNotContain("gkd.train_embeddings", why);

        // the estimate counts them the same way, and says so
        var (bytes, lines) = HealStage.Estimated(eightB, [("child1", child)], DeviceKind.Cuda, 2, H200, checkpointing: true, frozen);
        Assert.Equal(HealGroups.Of(EightB * 2, childParameters - frozen, 2, DeviceKind.Cuda), bytes);
        Assert.Contains("4.16B trained parameters at 14 bytes, 1.05B frozen per model (the parent's), with what comes on top", lines[0]);
        Assert.True(HealGroups.Estimate(EightB, 2, 2, DeviceKind.Cuda, frozen) < HealGroups.Estimate(EightB, 2, 2, DeviceKind.Cuda));
    }

    /// <summary>
    /// Past the certain count, a Heal process logs its estimated peak and warns where that is more than the machine's
    /// memory. On a 24.7 GB CPU the 1B shape's child1 (682M parameters) peaked at 22.36 GB against 22.1 GB estimated
    /// while its best held-out copy was in memory; off it (12 bytes per trained parameter, not 16) it is estimated at
    /// 18.5 GB. The parent's size as a child (1.24B) passes the certain count (19.8 GB) but is estimated at 27.4 GB.
    /// </summary>
    [Fact]
    public void A_heal_process_logs_its_estimated_peak_and_warns_where_it_will_most_likely_run_out()
    {
        var oneB = ModelConfig.Llama(128_256, 2048, 16, 32, 8, 8192, tie: true);
        var child1 = ModelConfig.Llama(128_256, 2048, 16, 32, 8, 2560, tie: true); // 682M, as the 1B run's child1
        var large = oneB; // 1.24B
        const long machine = 24_700_000_000;
        var (bytes, lines) = HealStage.Estimated(oneB, [("child1", child1)], DeviceKind.Cpu, 4, machine, checkpointing: false);
        Assert.Equal(BldMemory.Of(OneB * 4, CostMeter.Parameters(child1), DeviceKind.Cpu, 12), bytes);
        Assert.InRange(bytes / 1e9, 18, 19);
        Assert.Matches(@"^child1: about 18\.\d GB of memory \(estimated: the parent's weights and 682(\.\d+)?M trained parameters at 12 bytes", lines.Single());

        Assert.Null(HealStage.TooLarge(oneB, [("child1", large)], DeviceKind.Cpu, 4, machine)); // certainly fits: not refused
        (bytes, lines) = HealStage.Estimated(oneB, [("child1", large)], DeviceKind.Cpu, 4, machine, checkpointing: false);
        Assert.True(bytes > machine);
        Assert.StartsWith("warning: that is more than this machine's 24.7 GB: the process will most likely run out of memory", lines[1]);
        Assert.EndsWith("a smaller child (constraints.params_vs_parent) holds less; gkd.checkpoint_activations: true keeps fewer activations", lines[1]);
        Assert.Contains("gkd.models_per_process: 1", HealStage.Estimated(oneB, [("child1", child1), ("uniform", child1)], DeviceKind.Cuda, 2,
            HealGroups.Of(OneB * 2, 2 * CostMeter.Parameters(child1), 2, DeviceKind.Cuda) - 1, checkpointing: true).Lines[1]);
        Assert.Single(HealStage.Estimated(oneB, [("child1", large)], DeviceKind.Cpu, 4, null, checkpointing: false).Lines); // memory unknown
    }
}
