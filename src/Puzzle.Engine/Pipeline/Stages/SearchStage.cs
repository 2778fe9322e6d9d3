using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Search: the grouped knapsack over the library, one job per batch size. Picks one attention and one FFN variant per
/// layer to minimise the summed replace-1-block score under the spec's constraints; k diverse solutions; a Pareto
/// sweep of quality against speedup; per-layer explanations; block_configs ready for export.
/// </summary>
public sealed class SearchStage : Stage
{
    public override string Name => "Search";
    public override int Version => 5; // 5: scoring.metric top1 is disagreement with the parent; 4: the closed loop (search.verify_rounds); 3: block influence from the Score jobs
    public override IReadOnlyList<string> Upstream => ["Score", "Measure"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => Runtime.ComputeDevice.CostKind(spec);
    public override bool Exclusive => true; // the closed loop times the child: nothing runs beside it
    public override string Description => "choose architectures under the constraints (MIP)";
    public const string ArchitecturesFile = "architectures.json", ExplainFile = "explain.txt", ParetoFile = "pareto.json", ParetoSvg = "pareto.svg";

    public override string? ArtifactFolder(JobPlan job) => Path.Combine("search", job.Id);

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
        MeasureStage.Batches(spec).Select(batch =>
        {
            var inputs = planned["Score"].ToDictionary(j => "score:" + j.Id, j => j);
            foreach (var m in planned["Measure"].Where(j => j.Id.StartsWith($"b{batch}."))) inputs["cost:" + m.Id] = m;
            var config = SpecSlice.Of(spec, "constraints", "search", "scoring.metric", "scoring.blocks", "scenario.prompt", "scenario.generate", "bld.mode",
                "evaluation.baselines", "evaluation.seed", "scenario.repeats", "scenario.warmup", "scenario.target");
            Runtime.ComputeDevice.Keyed(config, Runtime.ComputeDevice.CostKind(spec)); // the closed loop times on it
            config["batch"] = batch;
            return new JobPlan(this, $"b{batch}", config, inputs);
        }).ToList();

    public override void Run(JobContext context)
    {
        var spec = context.Spec;
        var batch = (int)context.Job.Config["batch"]!;
        var parent = ParentModel.PlannedConfig(spec);
        var scores = Enumerable.Range(0, parent.NumLayers)
            .Select(l => JsonNode.Parse(File.ReadAllText(Path.Combine(context.Input($"score:layer{l}"), ScoreStage.ScoresFile)))!.AsObject()).ToList();
        Cost.MeasuredCost Cost(string id) => MeasureStage.Read(context.Input("cost:" + id));
        var (problem, own) = ArchitectureProblem.Build(spec, parent, batch, scores, Cost);
        var measuredParent = Cost($"b{batch}.parent").ScenarioSeconds(spec.Scenario.Generate);

        var method = spec.Search.Method;
        var asSpecified = problem;
        var loop = SearchLoop.Run(context, spec, parent, batch, problem, own,
            p => PuzzleSearch.Solve(p, method, spec.Search.Solutions, spec.Search.Diversity, TimeSpan.FromSeconds(spec.Search.TimeLimitS)));
        var found = loop.Found;
        problem = loop.Problem; // the limits the loop tightened: the baselines are held to them too
        var architectures = new JsonArray();
        var explain = new System.Text.StringBuilder();
        for (var i = 0; i < found.Count; i++)
        {
            var a = found[i];
            var node = Describe(a, parent, spec, own);
            node["rank"] = i + 1;
            node["optimal"] = a.Optimal;
            architectures.Add(node);
            explain.AppendLine($"# architecture {i + 1} of {found.Count}, batch {batch}: predicted speedup {own.TimeSeconds / a.Cost(ArchitectureProblem.Time):0.00}x");
            explain.AppendLine(Explain.Table(a, problem));
        }
        var baselines = new JsonObject();
        foreach (var b in spec.Evaluation.Baselines)
        {
            var name = BaselineName(b);
            var (chosen, why) = ChooseBaseline(b, problem, spec, parent, scores, context);
            baselines[name] = chosen is null ? new JsonObject { ["skipped"] = why } : Describe(chosen, parent, spec, own);
            explain.AppendLine(chosen is null ? $"# baseline {name}: none ({why})"
                : $"# baseline {name}: predicted speedup {own.TimeSeconds / chosen.Cost(ArchitectureProblem.Time):0.00}x\n{Explain.Table(chosen, problem)}");
        }
        var doc = new JsonObject
        {
            ["batch"] = batch, ["method"] = method.ToString().ToLowerInvariant(),
            ["constraints"] = new JsonArray(asSpecified.Limits.Select(l => (JsonNode)new JsonObject { ["label"] = l.Label, ["resource"] = l.Resource, ["max"] = l.Max }).ToArray()),
            ["parent"] = new JsonObject
            {
                ["predicted_time_s"] = own.TimeSeconds, ["measured_time_s"] = measuredParent,
                ["additive_model_error"] = own.TimeSeconds / measuredParent - 1,
                ["memory_bytes"] = own.MemoryBytes, ["params"] = own.Parameters,
            },
            ["architectures"] = architectures,
            ["baselines"] = baselines,
            ["closed_loop"] = SearchLoop.Describe(loop, asSpecified),
        };
        File.WriteAllText(context.Output(ArchitecturesFile), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(context.Output(ExplainFile), explain.ToString());
        WritePareto(context, spec, batch, asSpecified, own);
        context.Metrics["solutions"] = found.Count;
        context.Metrics["best_score"] = found[0].Score;
        context.Metrics["predicted_speedup"] = own.TimeSeconds / found[0].Cost(ArchitectureProblem.Time);
        context.Metrics["parent_additive_model_error"] = own.TimeSeconds / measuredParent - 1;
        context.Log.Write(explain.ToString());
    }

    /// <summary>An architecture as the Heal stage reads it: score, predicted cost, per-layer choices and block_configs.</summary>
    static JsonObject Describe(Architecture a, Model.ModelConfig parent, PipelineSpec spec, ArchitectureProblem.Totals own)
    {
        var layers = ArchitectureProblem.AsLibraryChoices(parent, spec, a.Layers);
        var model = ArchitectureProblem.ToModel(parent, spec, layers);
        return new JsonObject
        {
            ["score"] = a.Score, ["metric"] = spec.Scoring.Metric.ToString().ToLowerInvariant(),
            ["predicted"] = new JsonObject
            {
                ["time_s"] = a.Cost(ArchitectureProblem.Time), ["speedup"] = own.TimeSeconds / a.Cost(ArchitectureProblem.Time),
                ["memory_bytes"] = a.Cost(ArchitectureProblem.Memory), ["params"] = a.Parameters,
            },
            ["layers"] = JsonSerializer.SerializeToNode(layers, PuzzleJson.Options),
            ["block_configs"] = JsonNode.Parse(HfConfig.ToJson(model, CheckpointFormat.NemotronNas))!["block_configs"]!.DeepClone(),
        };
    }

    public static string BaselineName(Baseline b) => b switch
    {
        Baseline.ShortGpt => "shortgpt",
        _ => b.ToString().ToLowerInvariant(),
    };

    static (Architecture? Chosen, string Why) ChooseBaseline(Baseline b, SearchProblem problem, PipelineSpec spec, Model.ModelConfig parent,
        IReadOnlyList<JsonObject> scores, JobContext context)
    {
        switch (b)
        {
            case Baseline.Uniform:
                return (Baselines.Uniform(problem), "no variant used in every layer meets the constraints");
            case Baseline.ShortGpt:
                var influence = ScoreStage.BlockInfluence(scores);
                context.Metrics["block_influence"] = new JsonArray(influence.Select(v => (JsonNode)v).ToArray());
                return (Baselines.ShortGpt(problem, influence, ParentModel.VariantIds(parent, spec)),
                    "the search space has no no-op attention and FFN, or dropping every layer does not meet the constraints");
            default:
                return (Baselines.Random(problem, spec.Evaluation.Seed), "even the cheapest variants do not meet the constraints");
        }
    }

    /// <summary>Quality against speedup: the best score at each throughput target from 1x up, other constraints kept.</summary>
    static void WritePareto(JobContext context, PipelineSpec spec, int batch, SearchProblem problem, ArchitectureProblem.Totals own)
    {
        var targets = Enumerable.Range(0, 17).Select(i => 1.0 + 0.25 * i).ToList();
        var others = problem.Limits.Where(l => !l.Label.StartsWith("throughput ≥") || !l.Label.EndsWith("parent")).ToList();
        var points = ParetoSweep.Sweep(t => problem with
        {
            Limits = [.. others, .. ArchitectureProblem.Limits(spec with { Constraints = new ConstraintsSpec() }, batch, own, t)],
        }, targets);
        var json = new JsonArray(points.Select(p => (JsonNode)new JsonObject
        {
            ["target_speedup"] = p.Target,
            ["score"] = p.Architecture?.Score,
            ["predicted_speedup"] = p.Architecture is { } a ? own.TimeSeconds / a.Cost(ArchitectureProblem.Time) : null,
        }).ToArray());
        File.WriteAllText(context.Output(ParetoFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(context.Output(ParetoSvg), ParetoSweep.Svg(points, "throughput target (× parent)", $"summed {spec.Scoring.Metric.ToString().ToLowerInvariant()}"));
    }
}
