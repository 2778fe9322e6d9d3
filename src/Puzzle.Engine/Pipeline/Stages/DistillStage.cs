using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Data;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Cache;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Distill (BLD): one job per (layer, subblock, variant) that has something to learn, each with its own key, entry,
/// curve and metrics. Jobs are built together (<see cref="Companions"/>): one process loads the parent's layers up to
/// the deepest variant's, runs the parent once per batch of training text, and trains every stale variant on that
/// batch from the parent's own stream (<see cref="BlockDistiller"/>). The store holds weights and curves, never
/// activations, so its size does not grow with <c>bld.tokens</c>. A manifest records init_nmse, final_nmse (the held-out
/// loss of the published weights: the best seen, the initialisation included), the held-out and training curves.
/// </summary>
public sealed class DistillStage : Stage<DistillStage.DistillJob>
{
    /// <summary>One variant to distill (its layer, subblock and shape), the library's mode, and its own training
    /// settings (bld's, with the last matching per-variant override applied).</summary>
    public sealed record DistillJob(BlockVariant Variant, [property: SpecPath("bld.mode")] BldMode Mode, [property: SpecPath("bld")] TrainingSpec Training, [property: SpecPath("bld.init")] LinearInit Init,
        string? Device) : ILayerJob
    {
        public int Layer => Variant.Layer;
    }

    public override string Name => "Distill";
    public override int Version => 5; // 5: linear subblocks started by least squares are fitted over the BLD tokens; 4: typed job config; 3: from the parent's stream, best held-out weights published
    public override IReadOnlyList<string> Upstream => ["Data", "Parent"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override string Description => "train the block library by blockwise local distillation";
    public const string WeightsFile = "weights.safetensors", CurveFile = "curve.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentStage.PlannedConfig(spec);
        var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
        return Catalog(parent, spec.Bld.Mode, spec.SearchSpace).Where(v => v.Trainable).Select(v =>
        {
            var training = spec.Bld.TrainingFor(v.Id);
            return Job(v.Id, new DistillJob(v, spec.Bld.Mode, training, spec.Bld.Init, ComputeDevice.KeyName(spec.Device, spec.Dtype)), inputs, training.Seed);
        }).ToList();
    }

    /// <summary>The other variants of the same block of <see cref="LayersPerProcess"/> layers.</summary>
    public override IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec) =>
        SameLayerBlock(job, stageJobs, LayersPerProcess(spec));

    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PipelineSpec, object> Planned = new();

    /// <summary>
    /// <c>bld.layers_per_process</c> when set; when 0, the layers per process that <see cref="BldMemory"/> estimates to
    /// fit 90% of the device's memory shared by the jobs that run on it at once (the GPU's by
    /// <c>executor.jobs_per_gpu</c>, this machine's by <c>executor.jobs</c>), in as few processes as possible (0: all
    /// layers in one process, as for every small parent, or where the GPU's memory cannot be read). A memory knob: no key
    /// holds it.
    /// </summary>
    public static int LayersPerProcess(PipelineSpec spec)
    {
        if (spec.Bld.LayersPerProcess > 0) return spec.Bld.LayersPerProcess;
        return (int)Planned.GetValue(spec, s =>
        {
            if (PlanMemory.Share(s) is not { } budget) return 0;
            var parent = ParentStage.PlannedConfig(s);
            return BldMemory.LayersPerProcess(parent, Catalog(parent, s).Where(v => v.Trainable).ToList(), WeightBytes(s), budget, s.Device);
        });
    }

    /// <summary>The parent's embeddings and layers up to the group's deepest, and the group's variants' weights and
    /// optimizer state (<see cref="BldMemory.Held"/>).</summary>
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec)
    {
        var variants = group.Select(j => j.ConfigAs<DistillJob>().Variant).ToList();
        var weightBytes = WeightBytes(spec);
        var config = ParentStage.PlannedConfig(spec);
        var (parentBytes, trained) = BldMemory.Held(config, variants, weightBytes);
        var (first, last) = (variants.Min(v => v.Layer), variants.Max(v => v.Layer));
        var layers = first == last ? $"layer {last}" : $"layers {first}-{last}";
        var planned = LayersPerProcess(spec);
        return new([
                new($"the parent's embeddings and layers 0-{last} in {MemoryFloor.DTypeName(weightBytes)}", parentBytes),
                new($"{variants.Count} variant{(variants.Count == 1 ? "" : "s")} of {layers}, {Cost.CostMeter.Readable(trained)} parameters at " +
                    $"{BldMemory.StateBytesPerParameter} bytes (weights, the best held-out copy, AdamW's moments)", trained * BldMemory.StateBytesPerParameter),
            ],
            first == last ? null : "Fewer layers per process (bld.layers_per_process; this run would train " +
                                   (planned == 0 ? "every layer in one process" : $"{planned} per process") +
                                   ") hold fewer variants each, and the parent only up to their deepest layer: " +
                                   $"with one layer per process, layer {last}'s holds at least {StoreUsage.Human(BldMemory.Least(config, [.. variants.Where(v => v.Layer == last)], weightBytes))}.");
    }


    /// <summary>The group's variants and the parent up to their deepest layer (<see cref="BldMemory.Estimate"/>, what
    /// <see cref="LayersPerProcess"/> sizes groups by).</summary>
    public override long? PlannedMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) =>
        BldMemory.Estimate(ParentStage.PlannedConfig(spec), group.Select(j => j.ConfigAs<DistillJob>().Variant), WeightBytes(spec), spec.Device);

    static int WeightBytes(PipelineSpec spec) => ComputeDevice.ElementBytesOn(spec.Device, spec.Dtype);

    protected override void Run(DistillJob job, JobContext context) => RunTogether([context]);

    public override void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        var first = contexts[0];
        var modelDir = ParentStage.ModelDirectory(first);
        var config = HfConfig.Read(modelDir);
        var jobs = contexts.Select(c => c.Job.ConfigAs<DistillJob>()).Select(j => new BldJob(j.Variant, BldSpec.Options(j.Training, j.Init, config.HiddenSize))).ToList();
        var dataset = Path.Combine(first.Input("data"), DataStage.Folder);
        using var train = TokenDataset.Open(dataset, DataSplit.Train);
        using var heldout = TokenDataset.Open(dataset, DataSplit.Selection); // its check chooses the weights a variant publishes
        var on = first.Device.Kind;
        var estimate = BldMemory.Estimate(config, jobs.Select(j => j.Variant), TensorDTypes.Of(first.Device.DType).ByteSize(), on);
        // beside peak_gpu_bytes or peak_rss_bytes: how good the estimate is
        foreach (var c in contexts) c.Metrics[on == DeviceKind.Cuda ? "estimated_gpu_bytes" : "estimated_rss_bytes"] = estimate;
        var (memory, device) = on == DeviceKind.Cuda ? ("GPU memory", "the GPU's") : ("memory", "this machine's");
        first.Log.WriteLine($"{jobs.Count} variants of layers {jobs.Min(j => j.Variant.Layer)}-{jobs.Max(j => j.Variant.Layer)}: about {estimate / 1e9:F1} GB of {memory} (estimated)");
        if (PlanMemory.Of(on) is { } total && estimate > total)
            first.Log.WriteLine($"warning: that is more than {device} {total / 1e9:F1} GB; fewer layers per process (bld.layers_per_process) " +
                                "hold less, but the parent's layers below the deepest variant's stay loaded");
        using var parent = ParentStream.Open(modelDir, config, jobs.Max(j => j.Variant.Layer) + 1, first.Device);
        Phase(contexts, "load");
        var results = BlockDistiller.Distill(parent, jobs, train, heldout, first.Log, first.Device);
        Phase(contexts, "initialise and train");
        foreach (var (context, result) in contexts.Zip(results))
        {
            // in the dtype they were trained in (bf16 on a GPU: a child is assembled in it, so float32 would only double the bytes)
            SafeTensorsWriter.Write(context.Output(WeightsFile), result.Weights, TensorDTypes.Of(first.Device.DType));
            foreach (var w in result.Weights.Values) w.Dispose();
            File.WriteAllText(context.Output(CurveFile), JsonSerializer.Serialize(result.Curve, PuzzleJson.Options));
            var m = context.Metrics;
            m["init_nmse"] = result.InitialNmse;
            m["final_nmse"] = result.FinalNmse;
            m["last_nmse"] = result.LastNmse;
            m["best_step"] = result.BestStep;
            m["initialiser"] = result.Initialiser;
            m["training"] = result.Training;
            m["initialiser_nmse"] = new JsonObject(result.InitNmse.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
            m["tokens_per_s"] = result.TokensPerSecond;
            m["loss_curve"] = JsonSerializer.SerializeToNode(result.Curve, PuzzleJson.Options);
            m["heldout_curve"] = JsonSerializer.SerializeToNode(result.Heldout, PuzzleJson.Options);
            m["trained_together"] = contexts.Count;
            m["train_seconds"] = result.TrainSeconds;
            first.Log.WriteLine($"{context.Job.Id}: nmse {result.InitialNmse:F4} ({result.Initialiser}) → {result.FinalNmse:F4} by {result.Training} " +
                                $"(best at step {result.BestStep}; last {result.LastNmse:F4})");
        }
        Phase(contexts, "save");
        var worse = results.Zip(contexts).Where(p => p.First.BestStep == 0 && p.First.LastNmse > p.First.InitialNmse).ToList();
        if (worse.Count > 0)
            first.Log.WriteLine($"warning: training made {worse.Count} variant(s) worse on held-out text; they publish their initialisation: " +
                                string.Join(", ", worse.Select(p => p.Second.Job.Id)));
    }

    /// <summary>Decoupled: attention and FFN variants separately ((m+n)·L jobs); coupled: every pairing (m·n·L).</summary>
    public static IReadOnlyList<BlockVariant> Catalog(ModelConfig parent, BldMode mode, SearchSpaceSpec space) => mode == BldMode.Coupled
        ? VariantCatalog.Coupled(parent, space.Alternatives)
        : VariantCatalog.For(parent, space.Alternatives);

    /// <summary>The library a spec asks for (its bld.mode over its search space).</summary>
    public static IReadOnlyList<BlockVariant> Catalog(ModelConfig parent, PipelineSpec spec) => Catalog(parent, spec.Bld.Mode, spec.SearchSpace);
}
