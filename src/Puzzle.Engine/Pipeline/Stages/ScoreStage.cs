using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Score: replace-1-block quality. One job per layer: each batch of held-out text goes through the parent up to the
/// layer once, and from there through the rest of the parent and, for each of the layer's variants, through the variant
/// in place of its subblock and the rest of the parent; each is compared with the parent: KL(parent ‖ model) per token,
/// LM loss, top-1 accuracy and agreement. The job also records the layer's block influence (ShortGPT: 1 − mean cos of
/// the layer's input and output), and the time of the parent's forward pass beside the variants'.
/// </summary>
public sealed class ScoreStage : Stage
{
    public override string Name => "Score";
    public override int Version => 2; // 2: from the parent's stream; block influence
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Distill"];
    public override string Description => "replace-1-block scores of every variant";
    public const string ScoresFile = "scores.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentModel.PlannedConfig(spec);
        var distill = planned["Distill"].ToDictionary(j => j.Id);
        var catalog = DistillStage.Catalog(parent, spec);
        return Enumerable.Range(0, parent.NumLayers).Select(layer =>
        {
            var variants = catalog.Where(v => v.Layer == layer && !v.IsParent).ToList();
            var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
            foreach (var v in variants.Where(v => distill.ContainsKey(v.Id))) inputs["variant:" + v.Id] = distill[v.Id];
            var config = new JsonObject
            {
                ["layer"] = layer, ["variants"] = new JsonArray(variants.Select(v => (JsonNode)v.Id).ToArray()),
                ["tokens"] = spec.Scoring.Tokens, ["batch"] = spec.Bld.Batch,
            };
            return new JobPlan(this, $"layer{layer}", ComputeDevice.Keyed(config, spec.Device), inputs);
        }).ToList();
    }

    /// <summary>The first held-out sequences that <paramref name="tokens"/> covers: the text scores are measured on.</summary>
    public static long[] HeldoutSequences(TokenDataset heldout, long tokens) =>
        Enumerable.Range(0, (int)Math.Clamp((tokens + heldout.SeqLen - 1) / heldout.SeqLen, 1, heldout.Count)).Select(i => (long)i).ToArray();

    public override void Run(JobContext context)
    {
        var layer = (int)context.Job.Config["layer"]!;
        var batchSize = (int)context.Job.Config["batch"]!;
        var modelDir = ParentStage.ModelDirectory(context.Input("parent"));
        var device = context.Device;
        using var parent = ParentModel.Load(modelDir, device);
        var config = parent.Config;
        var variants = DistillStage.Catalog(config, context.Spec).Where(v => v.Layer == layer && !v.IsParent).ToList();
        var blocks = variants.ToDictionary(v => v.Id, v => LibraryBlock.Build(config, parent.model.layers[layer], v,
            context.Job.Inputs.ContainsKey("variant:" + v.Id) ? Path.Combine(context.Input("variant:" + v.Id), DistillStage.WeightsFile) : null));

        using var data = TokenDataset.Open(Path.Combine(context.Input("data"), DataStage.Folder), DataSplit.Heldout);
        var sequences = HeldoutSequences(data, (long)context.Job.Config["tokens"]!);
        var sums = variants.ToDictionary(v => v.Id, _ => new LmMetricsAccumulator());
        var parentSums = new LmMetricsAccumulator();
        var (influence, positions) = (0.0, 0L); // summed cosine of the layer's input and output
        var (parentSeconds, variantSeconds) = (0.0, 0.0);
        var clock = new System.Diagnostics.Stopwatch();
        var progress = new Training.ProgressLine($"score layer {layer}", sequences.Length * (long)data.SeqLen, context.Log);
        using (no_grad())
        {
            var (cos, sin) = parent.RotaryAt(0, data.SeqLen, device.Device, device.DType);
            for (var start = 0; start < sequences.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var batch = sequences[start..Math.Min(sequences.Length, start + batchSize)];
                var tokens = device.Put(data.GetBatch(batch));
                var targets = tokens[.., 1..];
                device.Synchronize();
                clock.Restart();
                var x = parent.RunBlocks(parent.Embed(tokens[.., ..^1]), 0, layer);
                var outputs = new List<Tensor>();
                var reference = parent.Head(parent.RunBlocks(x, layer, config.NumLayers, outputs: outputs));
                parentSums.Add(reference, targets);
                device.Synchronize();
                parentSeconds += clock.Elapsed.TotalSeconds;
                var cosine = nn.functional.cosine_similarity(x.to(float32), outputs[0].to(float32), dim: -1);
                influence += cosine.to(float64).sum().item<double>();
                positions += cosine.numel();
                clock.Restart();
                foreach (var v in variants)
                {
                    var h = blocks[v.Id].Forward(x, cos, sin, null, layer);
                    sums[v.Id].Add(parent.Head(parent.RunBlocks(h, layer + 1, config.NumLayers)), targets, reference);
                }
                device.Synchronize();
                variantSeconds += clock.Elapsed.TotalSeconds;
                progress.Report((start + batch.Length) * (long)data.SeqLen, double.NaN);
            }
        }
        foreach (var b in blocks.Values) b.Dispose();

        var scores = new JsonObject();
        foreach (var v in variants)
        {
            var m = sums[v.Id].Result();
            scores[v.Id] = new JsonObject { ["kl"] = m.Kl, ["lm_loss"] = m.Loss, ["top1"] = m.Top1, ["agreement"] = m.Agreement };
        }
        var own = parentSums.Result();
        var doc = new JsonObject
        {
            ["layer"] = layer, ["tokens"] = own.Tokens,
            ["parent"] = new JsonObject { ["lm_loss"] = own.Loss, ["top1"] = own.Top1 },
            ["block_influence"] = 1 - influence / Math.Max(1, positions),
            ["variants"] = scores,
        };
        File.WriteAllText(context.Output(ScoresFile), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        context.Metrics["tokens"] = own.Tokens;
        context.Metrics["variants"] = variants.Count;
        // the parent's forward pass and one variant's (the mean), both with their metrics: the replace-1-block cost
        context.Metrics["parent_seconds"] = parentSeconds;
        context.Metrics["variant_seconds"] = variants.Count == 0 ? 0 : variantSeconds / variants.Count;
        foreach (var v in variants) context.Log.WriteLine($"{v.Id}: KL {scores[v.Id]!["kl"]:F4}");
    }

    /// <summary>Each layer's block influence, from the Score jobs' documents (in layer order).</summary>
    public static double[] BlockInfluence(IEnumerable<JsonObject> scores) =>
        scores.Select(s => (double)s["block_influence"]!).ToArray();
}
