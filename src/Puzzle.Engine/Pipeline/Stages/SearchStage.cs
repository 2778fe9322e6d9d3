using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Search: the grouped knapsack over the library, one job. Picks one attention and one FFN variant per layer to
/// minimise the summed replace-1-block score under the spec's constraints, which hold at every batch size searched
/// (scenario.batch and search.batch_sizes, each costed by its own Measure jobs); k diverse solutions; a Pareto sweep
/// of quality against speedup; per-layer explanations; block_configs ready for export. The job is named after
/// scenario.batch (b&lt;batch&gt;), the batch its predicted speedups and closed loop refer to.
/// </summary>
public sealed partial class SearchStage : Stage<SearchStage.SearchJob>
{
    /// <summary>One search at one batch size: the problem's settings, the search's own, the random baseline's seed, and
    /// the parent's architecture. Every kind of baseline is chosen, whichever evaluation.baselines heals: a baseline
    /// added or dropped there changes no Search key, so the children are not searched and healed again.</summary>
    public sealed record SearchJob(int Batch, ArchitectureProblem.Settings Problem, [property: SpecPath("search")] SearchSpec Search,
        [property: SpecPath("evaluation.seed")] long BaselineSeed, ModelConfig Parent, string? Device);

    /// <summary>One point of pareto.json: the best score at a throughput target, and that architecture's predicted
    /// speedup (both null where the target is infeasible).</summary>
    public sealed record ParetoEntry(double TargetSpeedup, double? Score, double? PredictedSpeedup)
    {
        public static IReadOnlyList<ParetoEntry> Read(string jobDirectory) => RecordFile.Read<List<ParetoEntry>>(Path.Combine(jobDirectory, ParetoFile));
    }

    public override string Name => "Search";
    public override int Version => 21; // 21: the closed loop's prefill computes the logits of each sequence's last position only (CostMeter.Steps); 20: explain.txt says what its time_s column sums; 19: explain.txt says when a child is not proven optimal; 18: constraints the parent meets already are an error, not the parent as its own child; 17: explain.txt opens with what the closed loop measured, and says when its child is still short of a time constraint; 16: every kind of baseline chosen, evaluation.baselines not keyed; 15: a closed-loop timing whose parent is more than 10% from the Measure job's is taken again (ClosedLoop.Steady); 14: the closed loop times two copies of each model (CostMeter.Copies); 13: predicted times, speedups and time limits through the size curve; 12: the closed loop keeps each decode step's fastest run (StepTimes); 11: the parent's time is its summed blocks again, now that every cost is timed together; 10: the closed loop keeps both models and times them one run at a time in turn; 9: the closed loop times in rounds as Measure and Speed do (CostMeter.InRounds); 8: the parent's time is its whole-model measurement; 7: typed job config; 6: one search with the constraints at every batch size; diversity counts whole blocks (the paper's); no inclusion presolve (it cut off optima); 5: scoring.metric top1 is disagreement with the parent; 4: the closed loop (search.verify_rounds); 3: block influence from the Score jobs
    public override IReadOnlyList<string> Upstream => ["Score", "Measure"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => JobContext.CostKind(spec);
    /// <summary>The closed loop times the parent whole (not where the costs are a roofline, nor without the loop).</summary>
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) =>
        spec.Scenario.Target is null && spec.Search.VerifyRounds > 0 ? MemoryFloor.Parent(spec, JobContext.CostKind(spec)) : null;
    public override bool Exclusive => true; // the closed loop times the child: nothing runs beside it
    public override string Description => "choose architectures under the constraints (MIP)";
    public const string ArchitecturesFile = "architectures.json", ExplainFile = "explain.txt", ParetoFile = "pareto.json", ParetoSvg = "pareto.svg";

    public override string? ArtifactFolder(JobPlan job) => Path.Combine("search", job.Id);

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = planned["Score"].ToDictionary(j => "score:" + j.Id, j => j);
        foreach (var m in planned["Measure"]) inputs["cost:" + m.Id] = m; // every batch size's costs
        // the device is the cost device: the closed loop times on it
        return [Job($"b{spec.Scenario.Batch}", new SearchJob(spec.Scenario.Batch, ArchitectureProblem.Settings.Of(spec), spec.Search.AsActing(spec.Scenario.Target is not null, spec.Scenario.Runtime),
            spec.Evaluation.Seed, ParentStage.PlannedConfig(spec), Runtime.ComputeDevice.KeyName(JobContext.CostKind(spec), spec.Dtype)), inputs)];
    }

    protected override void Run(SearchJob job, JobContext context)
    {
        var (spec, batch, parent, search) = (job.Problem, job.Batch, job.Parent, job.Search);
        var scores = Enumerable.Range(0, parent.NumLayers)
            .Select(l => ScoreStage.LayerScores.Read(context.Input($"score:layer{l}"))).ToList();
        var costs = MeasureStage.Lookup(job => context.Input("cost:" + job));
        var (problem, own, ownAt) = ArchitectureProblem.Build(spec, parent, scores, costs.Cost, costs.Curve);
        if (ArchitectureProblem.MetByTheParent(problem, spec, ownAt) is { } met)
            throw new InvalidOperationException($"the parent meets every constraint already ({met}), so the search would choose the parent " +
                                                "itself: ask for more than the parent as Measure costed it (a lower latency_ms or memory_bytes, a higher " +
                                                "throughput_tokens_per_s or throughput_vs_parent); nothing was searched.");
        var others = ownAt.Keys.Where(b => b != batch).ToList(); // the further batch sizes the constraints hold at

        var method = search.Method;
        var asSpecified = problem;
        var loop = SearchLoop.Run(context, job, problem, ownAt,
            p => PuzzleSearch.Solve(p, method, search.Solutions, search.Diversity, TimeSpan.FromSeconds(search.TimeLimitS), unit: search.DiversityUnit));
        var found = loop.Found;
        problem = loop.Problem; // the limits the loop tightened: the baselines are held to them too
        var architectures = new List<ChosenArchitecture>();
        var explain = new System.Text.StringBuilder();
        var loopSummary = SearchLoop.Describe(loop, asSpecified);
        if (Explain.ClosedLoop(loopSummary) is { } measured) explain.AppendLine($"# {measured}");
        explain.Append(SummedTimeNote(own));
        for (var i = 0; i < found.Count; i++)
        {
            var a = found[i];
            architectures.Add(Describe(a, parent, spec, ownAt) with { Rank = i + 1, Optimal = a.Optimal });
            explain.AppendLine($"# architecture {i + 1} of {found.Count}, batch {batch}: predicted speedup {own.Speedup(a.Cost(ArchitectureProblem.Time)):0.00}x" +
                string.Concat(others.Select(b => $", {ownAt[b].Speedup(a.Cost(ArchitectureProblem.At(spec, ArchitectureProblem.Time, b))):0.00}x at batch {b}")) +
                Unproven(a, search));
            explain.AppendLine(Explain.Table(a, problem));
        }
        var baselines = new Dictionary<string, ChosenArchitecture>();
        context.Metrics["block_influence"] = new JsonArray(ScoreStage.BlockInfluence(scores).Select(v => (JsonNode)v).ToArray());
        foreach (var b in Enum.GetValues<Baseline>())
        {
            var name = BaselineName(b);
            var (chosen, why) = ChooseBaseline(b, problem, parent, job.Problem.SearchSpace, job.BaselineSeed, scores);
            baselines[name] = chosen is null ? new ChosenArchitecture { Skipped = why } : Describe(chosen, parent, spec, ownAt);
            explain.AppendLine(chosen is null ? $"# baseline {name}: none ({why})"
                : $"# baseline {name}: predicted speedup {own.Speedup(chosen.Cost(ArchitectureProblem.Time)):0.00}x\n{Explain.Table(chosen, problem)}");
        }
        var parentPrediction = new ParentPrediction(own.TimeSeconds, own.MeasuredTimeSeconds, own.TimeSeconds / own.MeasuredTimeSeconds - 1, own.MemoryBytes, own.Parameters)
        {
            SizeCurveK = own.Curve.K,
            Batches = others.Count == 0 ? null : others.ToDictionary(b => b.ToString(),
                b => new ParentAtBatch(ownAt[b].TimeSeconds, ownAt[b].MeasuredTimeSeconds, ownAt[b].MemoryBytes)),
        };
        new SearchResult(batch, ownAt.Keys.ToList(), method.ToString().ToLowerInvariant(),
            asSpecified.Limits.Select(l => new ReportConstraint(l.Label, l.Resource, l.Max)).ToList(), parentPrediction, architectures, baselines,
            loopSummary).Write(context.Output(ArchitecturesFile));
        File.WriteAllText(context.Output(ExplainFile), explain.ToString());
        WritePareto(context, spec, asSpecified, ownAt);
        context.Metrics["solutions"] = found.Count;
        context.Metrics["best_score"] = found[0].Score;
        context.Metrics["predicted_speedup"] = own.Speedup(found[0].Cost(ArchitectureProblem.Time));
        context.Metrics["size_curve_k"] = own.Curve.K;
        context.Metrics["parent_additive_model_error"] = own.TimeSeconds / own.MeasuredTimeSeconds - 1;
        context.Log.Write(explain.ToString());
    }

    /// <summary>What the tables' time_s column is: each block's scenario time as Measure timed it in a model of its shape,
    /// summed, which is not the child's predicted time (on a loaded 2-core CPU the ci parent's blocks summed to 135 ms
    /// where it ran whole in 7.5 ms, and a child's row read "total 102.57 ms, limit 103.71 ms" beside a target it met at
    /// 5.7 ms). The limits are on that sum; the target column's "reaches" is the predicted whole time.</summary>
    internal static string SummedTimeNote(ArchitectureProblem.Totals parent) =>
        $"# time_s in the tables: the blocks' scenario times as the Measure job costed them, summed (the parent's: {Explain.Of(ArchitectureProblem.Time, parent.TimeSeconds)}; " +
        $"it ran whole in {Explain.Of(ArchitectureProblem.Time, parent.MeasuredTimeSeconds)}); a time constraint is a limit on that sum through the size curve " +
        $"(K = {parent.Curve.K:0.###}), and its target column gives the predicted whole time or speedup\n";

    /// <summary>What explain.txt adds to a child's heading when the solver did not prove it the best under the limits: the
    /// time limit cut the solve short, so a more accurate child may meet them (greedy never proves anything, as its name says).</summary>
    internal static string Unproven(Architecture a, SearchSpec search) => a.Optimal || search.Method == SearchMethod.Greedy ? ""
        : $"; NOT proven optimal: search.time_limit_s ({search.TimeLimitS:0.###} s) ran out before the solver proved it, so a more " +
          (search.Method == SearchMethod.MaxParams ? "parameter-rich" : "accurate") + " child may meet the constraints; raise search.time_limit_s";

    /// <summary>An architecture as the Heal stage reads it: score, predicted cost, per-layer choices and block_configs.</summary>
    static ChosenArchitecture Describe(Architecture a, ModelConfig parent, ArchitectureProblem.Settings spec, IReadOnlyDictionary<int, ArchitectureProblem.Totals> ownAt)
    {
        var layers = ArchitectureProblem.AsLibraryChoices(parent, spec, a.Layers);
        var model = VariantCatalog.ToModel(parent, spec.SearchSpace.Alternatives, layers);
        var own = ownAt[spec.Scenario.Batch];
        var others = ownAt.Keys.Where(b => b != spec.Scenario.Batch).ToList();
        return new ChosenArchitecture
        {
            Score = a.Score, Metric = spec.Metric.ToString().ToLowerInvariant(),
            Predicted = new PredictedCost(own.Seconds(a.Cost(ArchitectureProblem.Time)), own.Speedup(a.Cost(ArchitectureProblem.Time)),
                a.Cost(ArchitectureProblem.Memory), a.Parameters)
            {
                // the same at the further batch sizes of search.batch_sizes (the figures above are scenario.batch's)
                Batches = others.Count == 0 ? null : others.ToDictionary(b => b.ToString(), b => new BatchPrediction(
                    ownAt[b].Seconds(a.Cost(ArchitectureProblem.At(spec, ArchitectureProblem.Time, b))),
                    ownAt[b].Speedup(a.Cost(ArchitectureProblem.At(spec, ArchitectureProblem.Time, b))),
                    a.Cost(ArchitectureProblem.At(spec, ArchitectureProblem.Memory, b)))),
            },
            Layers = layers,
            BlockConfigs = JsonNode.Parse(HfConfig.ToJson(model, CheckpointFormat.NemotronNas))!["block_configs"]!.DeepClone(),
        };
    }

    public static string BaselineName(Baseline b) => b switch
    {
        Baseline.ShortGpt => "shortgpt",
        _ => b.ToString().ToLowerInvariant(),
    };

    /// <summary>A baseline's architecture under the problem's limits (the Search job's, or a Sweep job's target), or why
    /// there is none.</summary>
    internal static (Architecture? Chosen, string Why) ChooseBaseline(Baseline b, SearchProblem problem, ModelConfig parent, SearchSpaceSpec space,
        long seed, IReadOnlyList<ScoreStage.LayerScores> scores)
    {
        switch (b)
        {
            case Baseline.Uniform:
                return (Baselines.Uniform(problem), "no variant used in every layer meets the constraints");
            case Baseline.ShortGpt:
                return (Baselines.ShortGpt(problem, ScoreStage.BlockInfluence(scores), ParentModel.VariantIds(parent, space.Alternatives)),
                    "the search space has no no-op attention and FFN, or dropping every layer does not meet the constraints");
            default:
                return (Baselines.Random(problem, seed), "even the cheapest variants do not meet the constraints");
        }
    }

    /// <summary>Quality against speedup: the best score at each throughput target from 1x up (at every batch size
    /// searched, as the search applies it), other constraints kept; speedups are scenario.batch's.</summary>
    static void WritePareto(JobContext context, ArchitectureProblem.Settings spec, SearchProblem problem, IReadOnlyDictionary<int, ArchitectureProblem.Totals> ownAt)
    {
        var targets = Enumerable.Range(0, 17).Select(i => 1.0 + 0.25 * i).ToList();
        var own = ownAt[spec.Scenario.Batch];
        var points = ParetoSweep.Sweep(t => problem with { Limits = ArchitectureProblem.Limits(spec, ownAt, t) }, targets);
        RecordFile.Write(context.Output(ParetoFile), points.Select(p => new ParetoEntry(p.Target, p.Architecture?.Score,
            p.Architecture is { } a ? own.Speedup(a.Cost(ArchitectureProblem.Time)) : null)).ToList());
        File.WriteAllText(context.Output(ParetoSvg), ParetoSvgOf(points, "throughput target (× parent)", $"summed {spec.Metric.ToString().ToLowerInvariant()}"));
    }

    /// <summary>The best score against each feasible target, one dot per target, joined in target order.</summary>
    public static string ParetoSvgOf(IReadOnlyList<ParetoPoint> points, string xLabel, string yLabel) =>
        Reporting.SvgChart.Render([new Reporting.SvgChart.Series("best score", [.. points.Where(p => p.Architecture is not null).Select(p => (p.Target, p.Architecture!.Score))]) { Dots = true }],
            xLabel, yLabel, note: $"{points.Count(p => p.Architecture is null)} of {points.Count} targets infeasible");
}
