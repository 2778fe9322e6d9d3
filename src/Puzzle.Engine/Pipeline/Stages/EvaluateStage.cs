using System.Text.Json.Nodes;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>Evaluate: held-out quality on text the pipeline never trained on (the Data job's held-out split).</summary>
public sealed class EvaluateStage : Stage
{
    public override string Name => "Evaluate";
    public override int Version => 1;
    public override IReadOnlyList<string> Upstream => ["Data", "Parent"];
    public override string Description => "evaluate on held-out text";
    public const string MetricsFile = "metrics.json";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
    [
        new JobPlan(this, "parent", ComputeDevice.Keyed(SpecSlice.Of(spec, "evaluation.tokens"), spec.Device), new Dictionary<string, JobPlan>
        {
            ["model"] = planned["Parent"].Single(),
            ["data"] = planned["Data"].Single(),
        }),
    ];

    public override void Run(JobContext context)
    {
        var dataset = Path.Combine(context.Input("data"), DataStage.Folder);
        var seqLen = DatasetManifest.Read(dataset).SeqLen;
        var tokens = (long)context.Job.Config["evaluation"]!["tokens"]!;
        var request = new EvalRequest(ParentStage.ModelDirectory(context.Input("model")), null, [dataset], seqLen,
            MaxSequences: (int)Math.Max(1, tokens / seqLen), Device: context.Device);
        var result = EvalJob.Run(request, context.Log.WriteLine).Metrics;
        var json = new JsonObject
        {
            ["tokens"] = result.Tokens, ["loss"] = result.Loss, ["perplexity"] = result.Perplexity, ["top1"] = result.Top1,
        };
        File.WriteAllText(context.Output(MetricsFile), json.ToJsonString(new() { WriteIndented = true }));
        foreach (var (k, v) in json) context.Metrics[k] = v!.DeepClone();
        context.Log.WriteLine($"held-out loss {result.Loss:F4}, perplexity {result.Perplexity:F2}, top-1 {result.Top1:P2}");
    }
}
