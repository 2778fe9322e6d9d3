using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Data;
using Puzzle.Engine.Evaluation;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Evaluate: every model on held-out text the pipeline neither trained on nor chose with (the Data job's evaluation part), against the
/// parent: LM loss, top-1, KL(parent ‖ model) and top-1 agreement; and its prefill and decode speed in the spec's
/// scenario, measured in the same process as the parent's, alternating, so the speedup is a same-run ratio; and its
/// accuracy on multiple-choice tasks (<see cref="EvaluateTasks"/>).
/// </summary>
public sealed class EvaluateStage : Stage
{
    public override string Name => "Evaluate";
    public override int Version => 3; // 3: multiple-choice tasks; 2: children and baselines against the parent, measured speed
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Heal"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device == DeviceKind.Cuda ? DeviceKind.Cuda : Runtime.ComputeDevice.CostKind(spec);
    public override string Description => "evaluate parent, children and baselines on held-out text; measure their speed";
    public override bool Exclusive => true; // it times models
    public const string MetricsFile = "metrics.json";
    /// <summary>Timing rounds: parent and model alternate, each round the scenario's repeats; the best median counts.</summary>
    const int Rounds = 2;

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var common = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
        JsonObject Config()
        {
            var config = SpecSlice.Of(spec, "evaluation.tokens", "scenario.device", "scenario.batch", "scenario.prompt",
                "scenario.generate", "scenario.repeats", "scenario.warmup");
            // speed depends on where it is measured, quality on where it is computed (a CPU spec keys as before)
            config["scenario"]!["device"] = ComputeDevice.Name(ComputeDevice.CostKind(spec));
            config["evaluation"]!["tasks"] = EvaluateTasks.Config(spec);
            return ComputeDevice.Keyed(config, spec.Device);
        }
        var jobs = new List<JobPlan> { new(this, "parent", Config(), common) };
        var heal = planned.TryGetValue("Heal", out var h) ? h : [];
        jobs.AddRange(heal.Select(j => new JobPlan(this, j.Id, Config(), new Dictionary<string, JobPlan>(common) { ["model"] = j })));
        return jobs;
    }

    public override void Run(JobContext context)
    {
        var spec = context.Spec;
        var json = new JsonObject { ["name"] = context.Job.Id };
        string? modelDir = null;
        if (context.Job.Inputs.ContainsKey("model"))
        {
            var heal = JsonNode.Parse(File.ReadAllText(Path.Combine(context.Input("model"), HealStage.HealFile)))!.AsObject();
            json["kind"] = heal["kind"]!.DeepClone();
            if (heal["skipped"] is { } why)
            {
                json["skipped"] = why.DeepClone();
                Write(context, json);
                return;
            }
            modelDir = Path.Combine(context.Input("model"), HealStage.ModelFolder);
        }
        else json["kind"] = "parent";

        using var parent = ParentModel.Load(ParentStage.ModelDirectory(context.Input("parent")), context.Device);
        using var model = modelDir is null ? null : ParentModel.Load(modelDir, context.Device);
        var dataset = Path.Combine(context.Input("data"), DataStage.Folder);
        using var heldout = TokenDataset.Open(dataset, DataSplit.Evaluation); // never the text that chose or trained the model
        var tokens = (long)context.Job.Config["evaluation"]!["tokens"]!;
        var count = Math.Clamp(tokens / heldout.SeqLen, 1, heldout.Count);
        var batch = spec.Scenario.Batch;
        var evaluating = new Training.ProgressLine($"evaluate {context.Job.Id}", count, context.Log, unit: "seq");
        long done = 0;
        var batches = heldout.Leading(count, 8).Select(ids =>
        {
            evaluating.Report(done += ids.Length, double.NaN);
            return heldout.GetBatch(ids);
        });
        var quality = model is null ? Evaluator.Evaluate(parent, batches) : Evaluator.Evaluate(model, batches, parent);
        json["tokens"] = quality.Tokens;
        json["loss"] = quality.Loss;
        json["perplexity"] = quality.Perplexity;
        json["top1"] = quality.Top1;
        json["kl"] = quality.Kl ?? 0;
        json["agreement"] = quality.Agreement ?? 1;
        json["parameters"] = (model ?? parent).ParameterCount;
        using (var tokenizer = EvaluateTasks.Tokenizer(ParentStage.ModelDirectory(context.Input("parent")), heldout, spec.BaseDirectory))
            json["tasks"] = EvaluateTasks.Score(context, model ?? parent, tokenizer, EvaluateTasks.Load(context, heldout, tokenizer), batch: 16);

        // speed: the parent and the model alternate, so drift in the machine's load touches both alike
        var costs = context.CostDevice;
        costs.Place(parent);
        if (model is not null) costs.Place(model);
        var parentSpeed = new List<Speed>();
        var modelSpeed = new List<Speed>();
        var timing = new Training.ProgressLine($"time {context.Job.Id} and parent", Rounds, context.Log, unit: "round");
        for (var r = 0; r < Rounds; r++)
        {
            timing.Report(r, double.NaN);
            parentSpeed.Add(Speed.Of(CostMeter.Model(parent, spec.Scenario, batch, costs), spec.Scenario, batch));
            if (model is not null) modelSpeed.Add(Speed.Of(CostMeter.Model(model, spec.Scenario, batch, costs), spec.Scenario, batch));
        }
        var own = Speed.Best(parentSpeed);
        var speed = model is null ? own : Speed.Best(modelSpeed);
        json["prefill_tokens_per_s"] = speed.Prefill;
        json["decode_tokens_per_s"] = speed.Decode;
        json["scenario_tokens_per_s"] = speed.Scenario;
        json["parent_speed"] = new JsonObject
        {
            ["prefill_tokens_per_s"] = own.Prefill, ["decode_tokens_per_s"] = own.Decode, ["scenario_tokens_per_s"] = own.Scenario,
        };
        json["speedup"] = new JsonObject
        {
            ["prefill"] = speed.Prefill / own.Prefill, ["decode"] = speed.Decode / own.Decode, ["scenario"] = speed.Scenario / own.Scenario,
        };
        json["scenario"] = new JsonObject
        {
            ["device"] = ComputeDevice.Name(costs.Kind), ["batch"] = batch, ["prompt"] = spec.Scenario.Prompt,
            ["generate"] = spec.Scenario.Generate, ["torch_threads"] = TorchSharp.torch.get_num_threads(),
            ["measured_on"] = costs.Kind == Spec.DeviceKind.Cpu ? $"{Packaging.BuildFacts.Cpu()}, {TorchSharp.torch.get_num_threads()} threads" : "a CUDA GPU",
        };
        Write(context, json);
        context.Log.WriteLine($"{context.Job.Id}: held-out loss {quality.Loss:F4}, top-1 {quality.Top1:P2}" +
            (model is null ? "" : $", KL {quality.Kl:F4}, agreement {quality.Agreement:P1}") +
            $"; prefill {speed.Prefill:N0} tok/s, decode {speed.Decode:N0} tok/s" +
            (model is null ? "" : $" ({speed.Scenario / own.Scenario:0.00}x the parent's scenario throughput)"));
    }

    static void Write(JobContext context, JsonObject json)
    {
        File.WriteAllText(context.Output(MetricsFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        foreach (var (k, v) in json)
            if (v is JsonValue) context.Metrics[k] = v.DeepClone();
    }

    /// <summary>Tokens per second of a scenario: prompt tokens per prefill second, generated tokens per decode second,
    /// and generated tokens per second of the whole scenario (prefill included), the measure the constraints use.</summary>
    sealed record Speed(double Prefill, double Decode, double Scenario)
    {
        public static Speed Of(MeasuredCost c, ScenarioSpec s, int batch) => new(
            (double)batch * s.Prompt / c.PrefillSeconds, batch / c.DecodeSecondsPerToken,
            (double)batch * s.Generate / c.ScenarioSeconds(s.Generate));

        public static Speed Best(IReadOnlyList<Speed> rounds) =>
            new(rounds.Max(r => r.Prefill), rounds.Max(r => r.Decode), rounds.Max(r => r.Scenario));
    }
}
