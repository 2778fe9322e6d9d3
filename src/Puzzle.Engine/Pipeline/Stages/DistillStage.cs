using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Distill (BLD): one job per (layer, subblock, variant) that has something to learn. Each loads only its layer of
/// the parent and its layer's activations, initialises the variant from the parent, and trains it to reproduce the
/// parent subblock's contribution. Its manifest records init_nmse, final_nmse and the loss curve.
/// </summary>
public sealed class DistillStage : Stage
{
    public override string Name => "Distill";
    public override int Version => 2; // 2: the manifest records the loss curve
    public override IReadOnlyList<string> Upstream => ["Parent", "Calibrate"];
    public override string Description => "train the block library by blockwise local distillation";
    public const string WeightsFile = "weights.safetensors", CurveFile = "curve.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentModel.PlannedConfig(spec);
        var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["calibrate"] = planned["Calibrate"].Single(j => j.Id == CalibrateStage.TrainJob) };
        return Catalog(parent, spec).Where(v => v.Trainable).Select(v =>
        {
            var o = BldOptions.For(spec.Bld, v.Id);
            var config = new JsonObject
            {
                ["layer"] = v.Layer, ["subblock"] = v.Subblock.ToString().ToLowerInvariant(),
                ["variant"] = v.Subblock switch
                {
                    Subblock.Attention => v.Attention!.ToString(),
                    Subblock.Ffn => v.Ffn!.ToString(),
                    _ => $"{v.Attention}+{v.Ffn}",
                },
                ["mode"] = spec.Bld.Mode.ToString().ToLowerInvariant(),
                ["tokens"] = o.Tokens, ["lr"] = o.Lr, ["batch"] = o.Batch, ["warmup_fraction"] = o.WarmupFraction,
                ["min_lr_ratio"] = o.MinLrRatio, ["weight_decay"] = o.WeightDecay, ["grad_clip"] = o.GradClip,
                ["init"] = o.Init.ToString().ToLowerInvariant(),
            };
            return new JobPlan(this, v.Id, ComputeDevice.Keyed(config, spec.Device), inputs, o.Seed);
        }).ToList();
    }

    public override void Run(JobContext context)
    {
        var spec = context.Spec;
        var modelDir = ParentStage.ModelDirectory(context.Input("parent"));
        var config = HfConfig.Read(modelDir);
        var variant = Catalog(config, spec).Single(v => v.Id == context.Job.Id);
        using var parent = LoadLayer(modelDir, config, variant.Layer, context.Device);
        var calibrate = context.Input("calibrate");
        var result = BlockDistiller.Distill(config, parent, variant,
            ActivationSet.Open(Path.Combine(calibrate, CalibrateStage.TrainSet)),
            ActivationSet.Open(Path.Combine(calibrate, CalibrateStage.CheckSet)),
            BldOptions.For(spec.Bld, variant.Id), context.Log, context.Device);

        SafeTensorsWriter.Write(context.Output(WeightsFile), result.Weights);
        File.WriteAllText(context.Output(CurveFile), JsonSerializer.Serialize(result.Curve, PuzzleJson.Options));
        context.Metrics["init_nmse"] = result.InitialNmse;
        context.Metrics["final_nmse"] = result.FinalNmse;
        context.Metrics["initialiser"] = result.Initialiser;
        context.Metrics["initialiser_nmse"] = new JsonObject(result.InitNmse.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
        context.Metrics["tokens_per_s"] = result.TokensPerSecond;
        context.Metrics["loss_curve"] = JsonSerializer.SerializeToNode(result.Curve, PuzzleJson.Options);
        context.Metrics["peak_rss_bytes"] = PeakRss();
        context.Log.WriteLine($"{variant.Id}: nmse {result.InitialNmse:F4} ({result.Initialiser}) → {result.FinalNmse:F4}, {result.TokensPerSecond:N0} tokens/s");
    }

    /// <summary>Decoupled: attention and FFN variants separately ((m+n)·L jobs); coupled: every pairing (m·n·L).</summary>
    public static IReadOnlyList<BlockVariant> Catalog(ModelConfig parent, PipelineSpec spec) => spec.Bld.Mode == BldMode.Coupled
        ? VariantCatalog.Coupled(parent, spec.SearchSpace)
        : VariantCatalog.For(parent, spec.SearchSpace);

    /// <summary>One parent layer, read lazily from the checkpoint: a job's memory does not grow with the parent's depth.</summary>
    public static DecoderBlock LoadLayer(string modelDir, ModelConfig config, int layer, ComputeDevice? device = null)
    {
        using var tensors = CheckpointTensors.Open(modelDir);
        var block = new DecoderBlock(config, config.Blocks[layer]);
        using var _ = TorchSharp.torch.no_grad();
        foreach (var (name, p) in block.named_parameters())
        {
            using var source = tensors.Read($"model.layers.{layer}.{name}");
            p.copy_(source);
        }
        block.eval();
        return (device ?? ComputeDevice.Cpu).Place(block);
    }

    /// <summary>The process's peak resident set (VmHWM), in bytes; 0 where /proc is not available.</summary>
    static long PeakRss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith("VmHWM:"));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
