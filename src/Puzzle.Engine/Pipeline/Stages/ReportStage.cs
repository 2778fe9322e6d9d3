using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Reporting;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Report: one table of parent, children and baselines (quality against the parent, measured and predicted speed),
/// as <c>report.json</c> for machines and <c>report.html</c> for people (architecture map, Pareto front, BLD and
/// GKD curves), published to <c>artifacts/&lt;pipeline&gt;/</c>.
/// </summary>
public sealed class ReportStage : Stage<ReportStage.ReportJob>
{
    /// <summary>The pipeline's name, its models (children, then baselines), the constraints and scenario (its device
    /// resolved) and what the costs describe, the metric the search summed, and the parent's own variants (drawn as such).</summary>
    public sealed record ReportJob([property: SpecPath("name")] string Pipeline, IReadOnlyList<string> Models, [property: SpecPath("constraints")] ConstraintsSpec Constraints,
        [property: SpecPath("scenario")] ScenarioSpec Scenario, string CostModel, [property: SpecPath("scoring.metric")] ScoringMetric Metric, IReadOnlyList<string> ParentVariants);

    public override string Name => "Report";
    public override int Version => 7; // 7: typed job config; 6: scenario.cost_model, the search's closed loop; 5: multiple-choice tasks with retention; 4: training warnings; 3: Pareto marks, per-layer BLD panels, log-axis GKD curves, grouped speedup header
    public override IReadOnlyList<string> Upstream => ["Distill", "Search", "Heal", "Evaluate"];
    public override string Description => "write report.json and report.html";
    public const string JsonFile = "report.json", HtmlFile = "report.html";
    /// <summary>The least share of the parent's top-1 a child must keep (the issue's goal, as in the paper's 98%).</summary>
    public const double RetentionGoal = 0.95;

    public override string? ArtifactFolder(JobPlan job) => "";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = new Dictionary<string, JobPlan> { ["search"] = planned["Search"].Single(j => j.Id == $"b{spec.Scenario.Batch}") };
        foreach (var j in planned["Evaluate"]) inputs["eval:" + j.Id] = j;
        foreach (var j in planned["Heal"]) inputs["heal:" + j.Id] = j;
        foreach (var j in planned["Distill"]) inputs["bld:" + j.Id] = j;
        var parentVariants = ParentModel.VariantIds(ParentModel.PlannedConfig(spec), spec.Bld.Mode, spec.SearchSpace).Order(StringComparer.Ordinal).ToList();
        return [Job("report", new ReportJob(spec.Name, HealStage.ModelIds(spec), spec.Constraints,
            spec.Scenario with { Device = Runtime.ComputeDevice.CostKind(spec) }, MeasureStage.CostModel(spec), spec.Scoring.Metric, parentVariants), inputs)];
    }

    protected override void Run(ReportJob job, JobContext context)
    {
        var search = JsonNode.Parse(File.ReadAllText(Path.Combine(context.Input("search"), SearchStage.ArchitecturesFile)))!.AsObject();
        var parentEval = Read(context.Input("eval:parent"), EvaluateStage.MetricsFile);
        var parentTop1 = (double)parentEval["top1"]!;
        var models = new JsonArray { Row(parentEval, null, parentTop1, parentEval) };
        var curves = new List<(string Name, IReadOnlyList<(double X, double Y)> Points)>();
        var marks = new List<(string Label, double X, double Y)>();
        foreach (var id in job.Models)
        {
            var heal = Read(context.Input("heal:" + id), HealStage.HealFile);
            var eval = Read(context.Input("eval:" + id), EvaluateStage.MetricsFile);
            models.Add(Row(eval, heal, parentTop1, parentEval));
            if (heal["skipped"] is null) curves.Add((id, Curve(Path.Combine(context.Input("heal:" + id), HealStage.CurveFile))));
            if (heal["architecture"] is JsonObject a && a["score"] is JsonValue score && a["predicted"]?["speedup"] is JsonValue speedup)
                marks.Add((id, (double)speedup, (double)score));
        }
        var bld = context.Job.Inputs.Keys.Where(k => k.StartsWith("bld:", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(k => (k[4..], Curve(Path.Combine(context.Input(k), DistillStage.CurveFile)))).ToList();

        var report = new JsonObject
        {
            ["pipeline"] = job.Pipeline,
            ["key"] = context.Job.Key,
            ["scenario"] = new JsonObject
            {
                ["device"] = Runtime.ComputeDevice.Name(job.Scenario.Device ?? DeviceKind.Cpu), ["batch"] = job.Scenario.Batch,
                ["prompt"] = job.Scenario.Prompt, ["generate"] = job.Scenario.Generate,
                ["measured_on"] = parentEval["scenario"]?["measured_on"]?.DeepClone(),
                ["cost_model"] = job.CostModel,
            },
            ["constraints"] = search["constraints"]!.DeepClone(),
            ["closed_loop"] = search["closed_loop"]?.DeepClone(),
            ["models"] = models,
        };
        report["goals"] = Goals(job.Constraints, models);
        report["training_warnings"] = new JsonArray(TrainingWarnings(context, job.Models).Select(w => (JsonNode)w).ToArray());
        File.WriteAllText(context.Output(JsonFile), report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(context.Output(HtmlFile), ReportHtml.Render(report, Pareto(context.Input("search"), job.Metric, marks), curves, bld,
            job.ParentVariants.ToHashSet()));
        context.Log.WriteLine(ReportTable.Render(report));
        context.Metrics["goals_met"] = report["goals"]!["met"]!.DeepClone();
    }

    /// <summary>The search's Pareto front against predicted speedup, with the children and baselines marked where they lie.</summary>
    static string? Pareto(string searchDirectory, ScoringMetric metric, IReadOnlyList<(string Label, double X, double Y)> marks)
    {
        var file = Path.Combine(searchDirectory, SearchStage.ParetoFile);
        if (!File.Exists(file)) return null;
        var points = JsonNode.Parse(File.ReadAllText(file))!.AsArray().Select(p => p!.AsObject()).ToList();
        var front = points.Where(p => p["score"] is JsonValue && p["predicted_speedup"] is JsonValue)
            .Select(p => ((double)p["predicted_speedup"]!, (double)p["score"]!)).ToList();
        return Search.SvgPlot.Render(front, "predicted speedup (× parent)", $"summed {metric.ToString().ToLowerInvariant()}",
            $"{points.Count - front.Count} of {points.Count} targets infeasible", marks);
    }

    /// <summary>
    /// Block variants and models whose training made them worse on held-out text: each published its starting weights
    /// (the best it saw), and the reader should know that training did not help them.
    /// </summary>
    static IEnumerable<string> TrainingWarnings(JobContext context, IReadOnlyList<string> models)
    {
        foreach (var key in context.Job.Inputs.Keys.Where(k => k.StartsWith("bld:", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var m = Cache.JobManifest.TryRead(Path.Combine(context.Input(key), Cache.JobManifest.FileName))?.Metrics;
            if (m?["best_step"] is JsonValue best && (long)best == 0 && m["last_nmse"] is JsonValue last && (double)last > (double)m["init_nmse"]!)
                yield return $"{key[4..]}: BLD raised held-out nMSE from {(double)m["init_nmse"]!:0.0000} to {(double)last:0.0000}; the initialisation is published";
        }
        foreach (var id in models)
        {
            var gkd = Read(context.Input("heal:" + id), HealStage.HealFile)["gkd"];
            if (gkd?["best_step"] is JsonValue best && (long)best == 0 && gkd["last_kl"] is JsonValue last && gkd["before"]?["kl"] is JsonValue before &&
                (double)last > (double)before)
                yield return $"{id}: GKD raised held-out KL from {(double)before:0.0000} to {(double)last:0.0000}; the assembled weights are published";
        }
    }

    /// <summary>One model's row: the issue's fields, plus what a reader needs to place it.</summary>
    static JsonObject Row(JsonObject eval, JsonObject? heal, double parentTop1, JsonObject parentEval)
    {
        var row = new JsonObject { ["name"] = eval["name"]!.DeepClone(), ["kind"] = eval["kind"]!.DeepClone() };
        if (eval["skipped"] is { } skipped)
        {
            row["skipped"] = skipped.DeepClone();
            return row;
        }
        var architecture = heal?["architecture"];
        row["top1"] = eval["top1"]!.DeepClone();
        row["loss"] = eval["loss"]!.DeepClone();
        row["kl"] = eval["kl"]!.DeepClone();
        row["agreement"] = eval["agreement"]!.DeepClone();
        row["retention"] = (double)eval["top1"]! / parentTop1;
        row["prefill_tokens_per_s"] = eval["prefill_tokens_per_s"]!.DeepClone();
        row["decode_tokens_per_s"] = eval["decode_tokens_per_s"]!.DeepClone();
        row["scenario_tokens_per_s"] = eval["scenario_tokens_per_s"]!.DeepClone();
        row["parameters"] = eval["parameters"]!.DeepClone();
        row["tasks"] = TaskRetention.Rows(eval["tasks"], parentEval["tasks"]);
        row["speedup"] = new JsonObject
        {
            ["predicted"] = architecture is null ? 1.0 : architecture["predicted"]!["speedup"]!.DeepClone(),
            ["prefill"] = eval["speedup"]!["prefill"]!.DeepClone(),
            ["decode"] = eval["speedup"]!["decode"]!.DeepClone(),
            ["scenario"] = eval["speedup"]!["scenario"]!.DeepClone(),
        };
        if (architecture is not null)
        {
            row["layers"] = architecture["layers"]!.DeepClone();
            row["gkd"] = heal!["gkd"]!.DeepClone();
        }
        return row;
    }

    /// <summary>The issue's goals for the best child: top-1 retention, measured speedup, and lower KL and higher
    /// agreement than every baseline.</summary>
    static JsonObject Goals(ConstraintsSpec constraints, JsonArray models)
    {
        var rows = models.Select(m => m!.AsObject()).Where(m => m["skipped"] is null).ToList();
        var child = rows.FirstOrDefault(m => (string)m["kind"]! == "child");
        var goals = new JsonObject { ["retention_min"] = RetentionGoal, ["speedup_target"] = constraints.ThroughputVsParent };
        if (child is null)
        {
            goals["met"] = false;
            goals["why"] = "no child";
            return goals;
        }
        var baselines = rows.Where(m => (string)m["kind"]! == "baseline").ToList();
        var beats = new JsonObject();
        foreach (var b in baselines)
            beats[(string)b["name"]!] = new JsonObject
            {
                ["kl_lower"] = (double)child["kl"]! < (double)b["kl"]!,
                ["agreement_higher"] = (double)child["agreement"]! > (double)b["agreement"]!,
            };
        var retention = (double)child["retention"]!;
        var speedup = (double)child["speedup"]!["scenario"]!;
        var retentionMet = retention >= RetentionGoal;
        var speedMet = constraints.ThroughputVsParent is not { } t || speedup >= t;
        var beatsAll = beats.All(b => (bool)b.Value!["kl_lower"]! && (bool)b.Value!["agreement_higher"]!);
        goals["child"] = child["name"]!.DeepClone();
        goals["retention"] = retention;
        goals["measured_speedup"] = speedup;
        goals["retention_met"] = retentionMet;
        goals["speedup_met"] = speedMet;
        goals["beats_baselines"] = beats;
        goals["met"] = retentionMet && speedMet && beatsAll;
        return goals;
    }

    static JsonObject Read(string directory, string file) => JsonNode.Parse(File.ReadAllText(Path.Combine(directory, file)))!.AsObject();

    static IReadOnlyList<(double X, double Y)> Curve(string path) => File.Exists(path)
        ? JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(p => ((double)p!["tokens"]!, (double)p["loss"]!)).ToList()
        : [];
}
