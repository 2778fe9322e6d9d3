using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Measure: the cost of every distinct subblock shape in the library (cost depends on shape, not layer), of the
/// non-block parts and of the whole parent, in the spec's scenario on its device (scenario.device, else device), per
/// batch size searched. Weights are random: latency does not depend on their values. Runs alone, so that no other job
/// skews the timings. With <c>scenario.target</c> the costs are the roofline of that hardware instead: nothing is timed.
/// </summary>
public sealed class MeasureStage : Stage
{
    public override string Name => "Measure";
    public override int Version => 4; // 4: blocks timed in depth, fastest of repeats; 3: scenario.target gives roofline costs
    public override IReadOnlyList<string> Upstream => [];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => Runtime.ComputeDevice.CostKind(spec);
    public override string Description => "measure each variant shape's cost in the scenario";
    public override bool Exclusive => true;
    public const string CostFile = "cost.json";

    public static IReadOnlyList<int> Batches(PipelineSpec spec) => spec.Search.BatchSizes.Prepend(spec.Scenario.Batch).Distinct().ToList();

    public static string AttentionJob(int batch, AttentionConfig a) => $"b{batch}.attention.{a}";
    public static string FfnJob(int batch, FfnConfig f) => $"b{batch}.ffn.{f}";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentModel.PlannedConfig(spec);
        var catalog = VariantCatalog.For(parent, spec.SearchSpace);
        var model = new JsonObject
        {
            ["hidden"] = parent.HiddenSize, ["heads"] = parent.NumAttentionHeads, ["head_dim"] = parent.HeadDim,
            ["vocab"] = parent.VocabSize, ["layers"] = parent.NumLayers, ["parent_block"] = parent.Blocks[0].ToString(),
            ["rope_theta"] = parent.RopeTheta, ["tie_embeddings"] = parent.TieWordEmbeddings,
        };
        var jobs = new List<JobPlan>();
        foreach (var batch in Batches(spec))
        {
            JobPlan Job(string id, string kind, string shape)
            {
                var config = SpecSlice.Of(spec, "scenario.device", "scenario.prompt", "scenario.generate", "scenario.repeats", "scenario.warmup", "scenario.target");
                // the device costs are measured on, as resolved: a CPU spec keeps the key it had before device existed
                config["scenario"]!["device"] = ComputeDevice.Name(ComputeDevice.CostKind(spec));
                ComputeDevice.Keyed(config, ComputeDevice.CostKind(spec));
                config["batch"] = batch;
                config["kind"] = kind;
                config["shape"] = shape;
                config["model"] = model.DeepClone();
                return new JobPlan(this, id, config, new Dictionary<string, JobPlan>());
            }
            foreach (var a in catalog.Where(v => v.Subblock == Subblock.Attention).Select(v => v.Attention!).Distinct())
                jobs.Add(Job(AttentionJob(batch, a), "attention", a.ToString()));
            foreach (var f in catalog.Where(v => v.Subblock == Subblock.Ffn).Select(v => v.Ffn!).Distinct())
                jobs.Add(Job(FfnJob(batch, f), "ffn", f.ToString()));
            jobs.Add(Job($"b{batch}.head", "head", "head"));
            jobs.Add(Job($"b{batch}.parent", "parent", "parent"));
        }
        return jobs;
    }

    public override void Run(JobContext context)
    {
        var spec = context.Spec;
        var parent = ParentModel.PlannedConfig(spec);
        var batch = (int)context.Job.Config["batch"]!;
        var kind = (string)context.Job.Config["kind"]!;
        var catalog = VariantCatalog.For(parent, spec.SearchSpace);
        BlockConfig? shape = kind switch
        {
            "attention" => new BlockConfig(catalog.First(v => v.Subblock == Subblock.Attention && AttentionJob(batch, v.Attention!) == context.Job.Id).Attention!, FfnConfig.NoOp),
            "ffn" => new BlockConfig(AttentionConfig.NoOp, catalog.First(v => v.Subblock == Subblock.Ffn && FfnJob(batch, v.Ffn!) == context.Job.Id).Ffn!),
            _ => null,
        };
        MeasuredCost cost;
        JsonObject doc;
        if (spec.Scenario.Target is { } target)
        {
            // hardware that is not here: the roofline of its data sheet, nothing is timed
            var hw = Hardware.Known[target];
            var s = spec.Scenario;
            cost = shape is not null ? Roofline.BlockCost(parent, shape, batch, s.Prompt, s.Generate, hw)
                : kind == "head" ? Roofline.HeadCost(parent, batch, s.Prompt, hw)
                : Roofline.ModelCost(parent, batch, s.Prompt, s.Generate, hw);
            doc = JsonSerializer.SerializeToNode(cost, PuzzleJson.Options)!.AsObject();
            doc["cost_model"] = CostModel(spec);
        }
        else
        {
            var device = context.CostDevice;
            if (shape is not null) cost = CostMeter.BlockInDepth(parent, shape, spec.Scenario, batch, Depth(parent), device);
            else if (kind == "head") cost = CostMeter.Head(parent, spec.Scenario, batch, device);
            else
            {
                using var model = device.Place(new CausalLM(parent));
                cost = CostMeter.Model(model, spec.Scenario, batch, device);
            }
            doc = JsonSerializer.SerializeToNode(cost, PuzzleJson.Options)!.AsObject();
            doc["threads"] = TorchSharp.torch.get_num_threads();
            doc["device"] = device.ToString();
            doc["cost_model"] = CostModel(spec);
        }
        doc["batch"] = batch;
        File.WriteAllText(context.Output(CostFile), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var (k, v) in doc) context.Metrics[k] = v?.DeepClone();
        context.Log.WriteLine($"{context.Job.Id}: prefill {cost.PrefillSeconds * 1e3:F2} ms, decode {cost.DecodeSecondsPerToken * 1e3:F3} ms/token");
    }

    /// <summary>How many blocks of one shape a block's timing model has: the parent's depth, at most 8 (a few layers
    /// already stream their weights from memory; more only lengthen the measurement).</summary>
    public static int Depth(ModelConfig parent) => Math.Min(parent.NumLayers, 8);

    /// <summary>What the costs describe, as the report and the model card name it.</summary>
    public static string CostModel(PipelineSpec spec) => spec.Scenario.Target is { } target
        ? $"roofline of {Hardware.Known[target].Name} (bfloat16, modelled from its data sheet, not measured)"
        : $"block costs measured on {ComputeDevice.Name(ComputeDevice.CostKind(spec))} (eager TorchSharp, each shape inside a model of its own depth), added up";

    public static MeasuredCost Read(string jobDirectory) =>
        JsonSerializer.Deserialize<MeasuredCost>(File.ReadAllText(Path.Combine(jobDirectory, CostFile)), PuzzleJson.Options)!;
}
