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
/// Score: replace-1-block quality. One job per layer: the parent's held-out activations at that layer's input are read
/// once and shared by all its variants; each variant replaces its subblock in the otherwise intact parent and the
/// whole model is compared with the parent: KL(parent ‖ model) per token, LM loss, top-1 accuracy and agreement.
/// </summary>
public sealed class ScoreStage : Stage
{
    public override string Name => "Score";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Calibrate", "Distill"];
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
            var inputs = new Dictionary<string, JobPlan>
            {
                ["parent"] = planned["Parent"].Single(),
                ["data"] = planned["Data"].Single(),
                ["heldout"] = planned["Calibrate"].Single(j => j.Id == CalibrateStage.HeldoutSet),
            };
            foreach (var v in variants.Where(v => distill.ContainsKey(v.Id))) inputs["variant:" + v.Id] = distill[v.Id];
            var config = new JsonObject { ["layer"] = layer, ["variants"] = new JsonArray(variants.Select(v => (JsonNode)v.Id).ToArray()) };
            return new JobPlan(this, $"layer{layer}", ComputeDevice.Keyed(config, spec.Device), inputs);
        }).ToList();
    }

    public override void Run(JobContext context)
    {
        var layer = (int)context.Job.Config["layer"]!;
        var modelDir = ParentStage.ModelDirectory(context.Input("parent"));
        var device = context.Device;
        using var parent = ParentModel.Load(modelDir, device);
        var config = parent.Config;
        var variants = DistillStage.Catalog(config, context.Spec).Where(v => v.Layer == layer && !v.IsParent).ToList();
        var blocks = variants.ToDictionary(v => v.Id, v => LibraryBlock.Build(config, parent.model.layers[layer], v,
            context.Job.Inputs.ContainsKey("variant:" + v.Id) ? Path.Combine(context.Input("variant:" + v.Id), DistillStage.WeightsFile) : null));

        var activations = ActivationSet.Open(context.Input("heldout"));
        using var data = TokenDataset.Open(Path.Combine(context.Input("data"), DataStage.Folder), DataSplit.Heldout);
        var sequences = CalibrateStage.HeldoutSequences(data, context.Spec.Scoring.Tokens);
        var sums = variants.ToDictionary(v => v.Id, _ => new LmMetricsAccumulator());
        var parentSums = new LmMetricsAccumulator();
        using (no_grad())
        {
            var (cos, sin) = parent.RotaryAt(0, data.SeqLen, device.Device, device.DType);
            var progress = new Training.ProgressLine($"score layer{layer}", sequences.Length, context.Log, unit: "seq");
            for (var start = 0; start < sequences.Length; start += context.Spec.Bld.Batch)
            {
                using var scope = NewDisposeScope();
                var batch = sequences[start..Math.Min(sequences.Length, start + context.Spec.Bld.Batch)];
                var x = device.Put(activations.Read(ActivationSet.InputOf(layer), batch));
                var targets = device.Put(data.GetBatch(batch)[.., 1..]);
                var reference = parent.Head(parent.RunBlocks(x, layer, config.NumLayers));
                parentSums.Add(reference, targets);
                foreach (var v in variants)
                {
                    var h = blocks[v.Id].Forward(x, cos, sin, null, layer);
                    sums[v.Id].Add(parent.Head(parent.RunBlocks(h, layer + 1, config.NumLayers)), targets, reference);
                }
                progress.Report(start + batch.Length, double.NaN);
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
            ["variants"] = scores,
        };
        File.WriteAllText(context.Output(ScoresFile), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        context.Metrics["tokens"] = own.Tokens;
        context.Metrics["variants"] = variants.Count;
        foreach (var v in variants) context.Log.WriteLine($"{v.Id}: KL {scores[v.Id]!["kl"]:F4}");
    }
}
