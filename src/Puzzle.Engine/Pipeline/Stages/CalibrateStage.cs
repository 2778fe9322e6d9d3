using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Library;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Calibrate: runs the parent once over the block-library tokens and stores its residual stream per layer
/// (<see cref="ActivationSet"/>), plus a small held-out set for measuring each variant's normalized MSE. Every
/// variant job reads only its own layer's activations: one parent pass instead of one per variant and layer.
/// </summary>
public sealed class CalibrateStage : Stage
{
    public override string Name => "Calibrate";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => ["Data", "Parent"];
    public override string Description => "record the parent's activations for the block library";
    public const string TrainSet = "train", CheckSet = "check", HeldoutSet = "heldout";
    public const string TrainJob = "activations";
    /// <summary>Held-out sequences on which init and final normalized MSE are measured.</summary>
    public const int CheckSequences = 16;

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
        return
        [
            new JobPlan(this, TrainJob, ComputeDevice.Keyed(SpecSlice.Of(spec, "bld.tokens", "bld.batch"), spec.Device), inputs, spec.Bld.Seed),
            // each layer's input on held-out text, shared by all of that layer's replace-1-block scores
            new JobPlan(this, HeldoutSet, ComputeDevice.Keyed(SpecSlice.Of(spec, "scoring.tokens"), spec.Device), inputs),
        ];
    }

    /// <summary>The first held-out sequences that <paramref name="tokens"/> covers: what the heldout job records and Score reads.</summary>
    public static long[] HeldoutSequences(TokenDataset heldout, long tokens) =>
        Enumerable.Range(0, (int)Math.Clamp((tokens + heldout.SeqLen - 1) / heldout.SeqLen, 1, heldout.Count)).Select(i => (long)i).ToArray();

    public override void Run(JobContext context)
    {
        if (context.Job.Id == HeldoutSet)
        {
            using var parentModel = ParentModel.Load(ParentStage.ModelDirectory(context.Input("parent")), context.Device);
            using var heldout = TokenDataset.Open(Path.Combine(context.Input("data"), DataStage.Folder), DataSplit.Heldout);
            var order = HeldoutSequences(heldout, context.Spec.Scoring.Tokens);
            Record(parentModel, heldout, order, context.Spec.Bld.Batch, context.OutputDirectory, context.Device,
                new Training.ProgressLine("calibrate heldout", order.Length, context.Log, unit: "seq"));
            context.Metrics["tokens"] = order.Length * (long)heldout.SeqLen;
            return;
        }
        var bld = context.Spec.Bld;
        var dataset = Path.Combine(context.Input("data"), DataStage.Folder);
        using var model = ParentModel.Load(ParentStage.ModelDirectory(context.Input("parent")), context.Device);
        using (var train = TokenDataset.Open(dataset, DataSplit.Train))
        {
            var sequences = Math.Clamp((bld.Tokens + train.SeqLen - 1) / train.SeqLen, 1, train.Count);
            var order = train.EpochOrder((ulong)context.Job.Seed, 0).Take((int)sequences).ToArray();
            Record(model, train, order, bld.Batch, context.Output(TrainSet), context.Device,
                new Training.ProgressLine("calibrate train", order.Length, context.Log, unit: "seq"));
            context.Metrics["train_tokens"] = sequences * train.SeqLen;
        }
        using (var heldout = TokenDataset.Open(dataset, DataSplit.Heldout))
        {
            var order = Enumerable.Range(0, (int)Math.Min(CheckSequences, heldout.Count)).Select(i => (long)i).ToArray();
            Record(model, heldout, order, bld.Batch, context.Output(CheckSet), context.Device,
                new Training.ProgressLine("calibrate check", order.Length, context.Log, unit: "seq"));
        }
        context.Log.WriteLine($"calibrate: {context.Metrics["train_tokens"]} tokens through {model.Config.NumLayers} layers");
    }

    /// <summary>Runs the parent over the sequences and appends each layer's input and its two contributions per batch.</summary>
    static void Record(Model.CausalLM model, TokenDataset data, long[] order, int batch, string directory, ComputeDevice device, Training.ProgressLine progress)
    {
        var config = model.Config;
        using var writer = new ActivationSet.Writer(directory, config.NumLayers, data.SeqLen, config.HiddenSize);
        using var _ = no_grad();
        for (var start = 0; start < order.Length; start += batch)
        {
            using var scope = NewDisposeScope();
            var tokens = device.Put(data.GetBatch(order[start..Math.Min(order.Length, start + batch)]));
            var x = model.Embed(tokens[.., ..^1]);
            var (cos, sin) = model.RotaryAt(0, x.shape[1], x.device, x.dtype);
            for (var i = 0; i < config.NumLayers; i++)
            {
                var block = model.model.layers[i];
                writer.Append(ActivationSet.InputOf(i), x);
                var attention = block.AttentionOutput(x, cos, sin, null, i);
                writer.Append(ActivationSet.AttentionOf(i), attention);
                var h = x + attention;
                var ffn = block.FfnOutput(h);
                writer.Append(ActivationSet.FfnOf(i), ffn);
                x = h + ffn;
            }
            progress.Report(Math.Min(order.Length, start + batch), double.NaN);
        }
    }
}
