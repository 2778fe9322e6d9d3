using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Export;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Reporting;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Report: one table of parent, children and baselines (quality against the parent, measured and predicted speed),
/// as <c>report.json</c> for machines and <c>report.html</c> for people (architecture map, Pareto front, quality against
/// measured speed, BLD and GKD curves), published to <c>artifacts/&lt;pipeline&gt;/</c>. Each method's healed model and
/// its Sweep models form a curve of quality against measured speedup, and the best child is judged against each
/// baseline at its own measured speed on those curves (<see cref="EqualSpeed"/>).
/// </summary>
public sealed class ReportStage : Stage<ReportStage.ReportJob>
{
    /// <summary>The pipeline's name, its models (children, then baselines), the constraints and scenario (its device
    /// resolved) and what the costs describe, the metric the search summed, and the parent's own variants (drawn as such).</summary>
    public sealed record ReportJob([property: SpecPath("name")] string Pipeline, IReadOnlyList<string> Models, [property: SpecPath("constraints")] ConstraintsSpec Constraints,
        [property: SpecPath("scenario")] ScenarioSpec Scenario, string CostModel, [property: SpecPath("scoring.metric")] ScoringMetric Metric, IReadOnlyList<string> ParentVariants);

    public override string Name => "Report";
    public override int Version => 17; // 17: a baseline with no measured model is in goals.beats_baselines, not compared; 16: a baseline read at the child's speed is never worse than its models measured at least as fast (two at one speed: the better), values not finite left out; 15: goals hold throughput_tokens_per_s and latency_ms to the child's measured speed; 14: a warning's numbers with the digits that show the rise (four significant at least: a KL of 1e-5 is not 0.0000; report.html's GKD lines too), or the spread over 10%; 13: the goals' numbers with as many decimals as keep them on their side of the goal, target or baseline (1.495x, not 1.50x, beside a missed 1.5x); 12: Measure's timing apart from the farthest later one, and from the nearest; 11: a timing warning says when Measure's timing alone is apart, or the costs came from another machine, and names --rerun Measure; 10: timing warnings (the parent timed more than 10% apart); 9: every measured speed from the one Speed job; 8: curves of quality against measured speed, baselines judged at equal measured speed; 7: typed job config; 6: scenario.cost_model, the search's closed loop; 5: multiple-choice tasks with retention; 4: training warnings; 3: Pareto marks, per-layer BLD panels, log-axis GKD curves, grouped speedup header
    public override IReadOnlyList<string> Upstream => ["Distill", "Search", "Heal", "Evaluate", "Sweep", "Speed"];
    public override string Description => "write report.json and report.html";
    public override bool UsesTorch => false;
    public override bool SingleThreaded => true;
    public const string JsonFile = "report.json", HtmlFile = "report.html";
    /// <summary>The least share of the parent's top-1 a child must keep (the issue's goal, as in the paper's 98%).</summary>
    public const double RetentionGoal = 0.95;

    public override string? ArtifactFolder(JobPlan job) => "";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = new Dictionary<string, JobPlan>
        {
            ["search"] = planned["Search"].Single(j => j.Id == $"b{spec.Scenario.Batch}"), ["speed"] = planned["Speed"].Single(),
            ["measure"] = planned["Measure"].Single(j => j.Id == MeasureStage.JobId(spec.Scenario.Batch)),
        };
        foreach (var j in planned["Evaluate"]) inputs["eval:" + j.Id] = j;
        foreach (var j in planned["Heal"]) inputs["heal:" + j.Id] = j;
        foreach (var j in planned["Distill"]) inputs["bld:" + j.Id] = j;
        foreach (var j in planned.GetValueOrDefault("Sweep") ?? []) inputs["sweep:" + j.Id] = j;
        var parentVariants = ParentModel.VariantIds(ParentStage.PlannedConfig(spec), spec.SearchSpace.Alternatives).Order(StringComparer.Ordinal).ToList();
        return [Job("report", new ReportJob(spec.Name, HealStage.ModelIds(spec), spec.Constraints,
            spec.Scenario with { Device = JobContext.CostKind(spec) }, MeasureStage.CostModel(spec), spec.Scoring.Metric, parentVariants), inputs)];
    }

    protected override void Run(ReportJob job, JobContext context)
    {
        var search = SearchResult.Read(context.Input("search"));
        var parentEval = EvaluateStage.EvaluationMetrics.Read(context.Input("eval:parent"));
        var speeds = SpeedStage.SpeedsRecord.Read(context.Input("speed"));
        var parentSpeed = new SpeedStage.ModelSpeed(speeds.Parent, new SpeedStage.Speedups(1, 1, 1));
        var models = new List<ReportEntry> { Row(parentEval, null, parentEval, parentSpeed) };
        var gkdCurves = new List<(string Name, IReadOnlyList<(double X, double Y)> Points)>();
        var marks = new List<SvgChart.Mark>();
        var heals = new List<HealStage.HealReport>();
        foreach (var id in job.Models)
        {
            var heal = HealStage.HealReport.Read(context.Input("heal:" + id));
            heals.Add(heal);
            var eval = EvaluateStage.EvaluationMetrics.Read(context.Input("eval:" + id));
            models.Add(Row(eval, heal, parentEval, eval.Skipped is null ? speeds.Of(id) : null));
            if (heal.Skipped is null) gkdCurves.Add((id, Curve(Path.Combine(context.Input("heal:" + id), HealStage.CurveFile))));
            if (heal.Architecture is { Predicted: { } predicted } a) marks.Add(new SvgChart.Mark(id, predicted.Speedup, a.Score, heal.Kind == "child"));
        }
        var bld = context.Job.Inputs.Keys.Where(k => k.StartsWith("bld:", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(k => (k[4..], Curve(Path.Combine(context.Input(k), DistillStage.CurveFile)))).ToList();

        var sweep = context.Job.Inputs.Keys.Where(k => k.StartsWith("sweep:", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            .Select(k => SweepStage.SweepResult.Read(context.Input(k))).ToList();
        var curves = Curves(models, sweep, speeds, parentEval.Top1, job.Constraints.ThroughputVsParent);
        var report = new PipelineReport(job.Pipeline, context.Job.Key,
            new ReportScenario(Runtime.ComputeDevice.Name(job.Scenario.Device ?? DeviceKind.Cpu), job.Scenario.Batch, job.Scenario.Prompt,
                job.Scenario.Generate, speeds.Scenario.MeasuredOn, job.CostModel),
            search.Constraints, models)
        {
            ClosedLoop = search.ClosedLoop,
            Goals = Goals(job.Constraints, job.Scenario, models, curves),
            TrainingWarnings = TrainingWarnings(context, heals).ToList(),
            TimingWarnings = job.Scenario.Target is null
                ? TimingWarnings(search.Parent.MeasuredTimeS, search.ClosedLoop.Rounds.Select(r => r.ParentMeasuredTimeS).ToList(),
                    (double)job.Scenario.Batch * job.Scenario.Generate / speeds.Parent.ScenarioTokensPerS)
                    .Concat(MachineWarnings(MeasureStage.Read(context.Input("measure")).MeasuredOn, speeds.Scenario.MeasuredOn)).ToList()
                : [], // modelled, not timed
            Curves = curves,
        };
        report.Write(context.Output(JsonFile));
        File.WriteAllText(context.Output(HtmlFile), ReportHtml.Render(report, Pareto(context.Input("search"), job.Metric, marks), gkdCurves, bld,
            job.ParentVariants.ToHashSet()));
        context.Log.WriteLine(ReportTable.Render(report));
        context.Metrics["goals_met"] = report.Goals!.Met;
    }

    /// <summary>The search's Pareto front against predicted speedup, with the children and baselines marked where they lie.</summary>
    static string? Pareto(string searchDirectory, ScoringMetric metric, IReadOnlyList<SvgChart.Mark> marks)
    {
        if (!File.Exists(Path.Combine(searchDirectory, SearchStage.ParetoFile))) return null;
        var points = SearchStage.ParetoEntry.Read(searchDirectory);
        var front = points.Where(p => p is { Score: not null, PredictedSpeedup: not null }).Select(p => (p.PredictedSpeedup!.Value, p.Score!.Value)).ToList();
        return SvgChart.Render([new SvgChart.Series("best score", front) { Dots = true }], "predicted speedup (× parent)",
            $"summed {metric.ToString().ToLowerInvariant()}", note: $"{points.Count - front.Count} of {points.Count} targets infeasible", marks: marks);
    }

    /// <summary>
    /// Block variants and models whose training made them worse on held-out text: each published its starting weights
    /// (the best it saw), and the reader should know that training did not help them.
    /// </summary>
    static IEnumerable<string> TrainingWarnings(JobContext context, IReadOnlyList<HealStage.HealReport> heals)
    {
        foreach (var key in context.Job.Inputs.Keys.Where(k => k.StartsWith("bld:", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            if (Cache.JobManifest.TryRead(Path.Combine(context.Input(key), Cache.JobManifest.FileName))?.Metrics is { } m && BldWarning(key[4..], m) is { } bld)
                yield return bld;
        foreach (var heal in heals)
            if (GkdWarning(heal) is { } gkd)
                yield return gkd;
    }

    /// <summary>A Distill job's training warning, from its manifest's metrics; null where training did not raise held-out nMSE.</summary>
    internal static string? BldWarning(string variant, JsonObject m) =>
        m["best_step"] is JsonValue best && (long)best == 0 && m["last_nmse"] is JsonValue last && (double)last > (double)m["init_nmse"]!
            ? $"{variant}: BLD raised held-out nMSE {Raised((double)m["init_nmse"]!, (double)last)}; the initialisation is published"
            : null;

    /// <summary>A Heal job's training warning; null where GKD did not raise held-out KL.</summary>
    internal static string? GkdWarning(HealStage.HealReport heal) =>
        heal.Gkd is { BestStep: 0, LastKl: { } last, Before.Kl: { } before } && last > before
            ? $"{heal.Name}: GKD raised held-out KL {Raised(before, last)}; the assembled weights are published"
            : null;

    /// <summary>"from 0.01167 to 0.01175": four significant digits, or as many more as show the rise. A child close to its
    /// parent has a held-out KL of 1e-5 to 1e-3, which four decimals write as 0.0000 before and after alike, and two
    /// close values need more digits to read apart.</summary>
    internal static string Raised(double before, double after)
    {
        static string G(double x, int digits) => x.ToString("G" + digits, System.Globalization.CultureInfo.InvariantCulture);
        var digits = 4;
        while (digits < 17 && double.Parse(G(after, digits), System.Globalization.CultureInfo.InvariantCulture) <=
               double.Parse(G(before, digits), System.Globalization.CultureInfo.InvariantCulture)) digits++;
        return $"from {G(before, digits)} to {G(after, digits)}";
    }

    /// <summary>What a timing warning says to do: time the costs again (<c>--rerun</c>, see <see cref="PipelineGraph.Rerun"/>).</summary>
    const string RerunMeasure = "`puzzle run SPEC --rerun Measure` (or `dotnet cake --rerun=Measure`) times the costs again and rebuilds what follows from them";

    /// <summary>How far apart the parent's timings are, per scenario request: Measure's (the reference of every predicted
    /// speedup), the closed loop's rounds and Speed's (the reference of every measured speedup). The same model timed
    /// more than 10% apart means the machine's speed moved under the timings, and a measured speedup can be off by as
    /// much: on a shared 2-core CPU one Speed job timed the parent 25% faster than its Measure job had, and moved every
    /// measured speedup with it. Where the later timings agree and Measure's alone is apart, its entry was most likely
    /// timed at another time (an earlier run's, reused from the store) on a machine busier than now, or another machine:
    /// the warning then names the command that times the costs again.</summary>
    internal static IEnumerable<string> TimingWarnings(double measure, IReadOnlyList<double> closedLoop, double speed)
    {
        var all = closedLoop.Append(measure).Append(speed).ToList();
        var spread = all.Max() / all.Min() - 1;
        if (spread <= 0.10) yield break;
        // whole percents, or as many decimals as keep a spread just over 10% from reading "10% apart"
        var apart = spread.ToString("0" + (ReportFormat.Decimals(spread, 0.10, 2) is var d and > 2 ? "." + new string('0', d - 2) : "") + "%", System.Globalization.CultureInfo.InvariantCulture);
        var loop = closedLoop.Count == 0 ? "" : $", {string.Join(" and ", closedLoop.Select(Ms))} in the closed loop";
        var later = closedLoop.Append(speed).ToList();
        if (later.Count > 1 && later.Max() / later.Min() - 1 <= 0.10)
        {
            // Measure's is the slowest or the fastest timing (the later ones agree), so the whole spread is its distance
            // from the farthest of them; from the nearest it may be within 10%
            var nearest = Math.Max(measure / later.Max(), later.Min() / measure) - 1;
            yield return $"the parent timed {Ms(measure)} per scenario request in Measure{loop} and {Ms(speed)} in Speed: the later timings " +
                         $"agree within ±10%, Measure's is {apart} apart from the farthest of them ({nearest:0%} from the nearest), more than " +
                         "the ±10% predictions are held to; every " +
                         $"predicted speedup rests on it (its entry may be an earlier run's, timed on a machine {(measure > later.Max() ? "busier than now" : "quieter than now")} or another one): {RerunMeasure}";
            yield break;
        }
        yield return $"the parent timed {Ms(measure)} per scenario request in Measure{loop} and {Ms(speed)} in Speed: {apart} apart, " +
                     "more than the ±10% predictions are held to; the measured speedups, all against Speed's timing of the parent, " +
                     $"are uncertain by about as much (the machine's speed moved: other work on it, or its clock); on a quieter machine, {RerunMeasure}";
        static string Ms(double seconds) => $"{seconds * 1e3:0.0} ms";
    }

    /// <summary>A warning when the costs were timed on another machine than the speeds (a store carried between machines,
    /// such as a CI cache restored on another kind of runner): keys follow configuration, so such a Measure entry is a
    /// hit, and every predicted speedup then describes the machine it was timed on.</summary>
    internal static IEnumerable<string> MachineWarnings(string? costsOn, string speedsOn)
    {
        if (costsOn is null || costsOn == speedsOn) yield break;
        yield return $"the costs were timed on {costsOn} and the speeds on {speedsOn}: every predicted speedup describes the " +
                     $"former; {RerunMeasure}";
    }

    /// <summary>One model's row: its evaluation, with retention against the parent's top-1 and tasks, its measured
    /// speed, and what its Heal job chose and trained.</summary>
    static ReportEntry Row(EvaluateStage.EvaluationMetrics eval, HealStage.HealReport? heal, EvaluateStage.EvaluationMetrics parent, SpeedStage.ModelSpeed? measured)
    {
        if (eval.Skipped is { } skipped) return new ReportEntry(eval.Name, eval.Kind) { Skipped = skipped };
        var (speed, up) = (measured!.Speed!, measured.Speedup!);
        var architecture = heal?.Architecture;
        return new ReportEntry(eval.Name, eval.Kind)
        {
            Top1 = eval.Top1, Loss = eval.Loss, Kl = eval.Kl, Agreement = eval.Agreement, Retention = RetentionOf(eval.Top1, parent.Top1),
            PrefillTokensPerS = speed.PrefillTokensPerS, DecodeTokensPerS = speed.DecodeTokensPerS, ScenarioTokensPerS = speed.ScenarioTokensPerS,
            Parameters = eval.Parameters,
            Tasks = eval.Tasks.Select(t => TaskResult.Of(t, parent.Tasks.FirstOrDefault(p => p.Name == t.Name))).ToList(),
            Speedup = new ReportSpeedup(architecture?.Predicted?.Speedup ?? 1.0, up.Prefill, up.Decode, up.Scenario),
            Layers = architecture?.Layers,
            Gkd = heal?.Gkd is { } g ? new ReportGkd(g.Tokens, g.TokensPerS, g.Before.Kl, g.After.Kl) : null,
        };
    }

    /// <summary>
    /// Per method, its models as a curve of quality against measured speedup, in order of predicted speedup (measured
    /// speeds may order them otherwise, and the file stays the same across rebuilds but for measurements): puzzle's best child and
    /// each baseline healed at the spec's target, and what Sweep assembled at the further targets (retention against
    /// the parent's top-1 on the same held-out sequences). A method with no model at all has no curve.
    /// </summary>
    static IReadOnlyList<MethodCurve> Curves(IReadOnlyList<ReportEntry> models, IReadOnlyList<SweepStage.SweepResult> sweep, SpeedStage.SpeedsRecord speeds,
        double parentTop1, double? target)
    {
        var rows = models.Where(m => m.Skipped is null).ToList();
        var healed = new List<(string Method, ReportEntry? Row)> { (SweepStage.Puzzle, rows.FirstOrDefault(m => m.Kind == "child")) };
        healed.AddRange(models.Where(m => m.Kind == "baseline").Select(m => (m.Name, rows.FirstOrDefault(r => r.Name == m.Name))));
        healed.AddRange(sweep.Select(p => p.Method).Distinct().Where(m => healed.All(h => h.Method != m)).Select(m => (m, (ReportEntry?)null)));
        SpeedPoint Healed(ReportEntry r) => new(r.Name, true, r.Kl!.Value, r.Agreement!.Value, r.Retention,
            new PointSpeedup(r.Speedup!.Predicted, r.Speedup.Scenario))
        { Target = target };
        SpeedPoint Assembled(SweepStage.SweepResult p) => new(SweepStage.Id(p.Method, p.Target), false, p.Kl, p.Agreement, RetentionOf(p.Top1, parentTop1),
            new PointSpeedup(p.PredictedSpeedup, speeds.Of(SweepStage.Id(p.Method, p.Target)).Speedup!.Scenario))
        { Target = p.Target };
        return [.. healed
            .Select(h => new MethodCurve(h.Method, [.. (h.Row is { } r ? [Healed(r)] : Array.Empty<SpeedPoint>())
                .Concat(sweep.Where(p => p.Method == h.Method && p.Skipped is null).Select(Assembled))
                .OrderBy(p => p.Speedup.Predicted).ThenBy(p => p.Model, StringComparer.Ordinal)]))
            .Where(c => c.Points.Count > 0)];
    }

    /// <summary>The issue's goals for the best child: top-1 retention, measured speedup, the absolute time constraints
    /// (throughput_tokens_per_s, latency_ms) as measured, and lower KL and higher agreement than every baseline at the
    /// child's measured speed, read off each baseline's curve.</summary>
    internal static ReportGoals Goals(ConstraintsSpec constraints, ScenarioSpec scenario, IReadOnlyList<ReportEntry> models, IReadOnlyList<MethodCurve> curves)
    {
        var rows = models.Where(m => m.Skipped is null).ToList();
        var child = rows.FirstOrDefault(m => m.Kind == "child");
        var target = constraints.ThroughputVsParent;
        if (child is null) return new ReportGoals(RetentionGoal, target, false) { Why = "no child" };
        var own = curves.Single(c => c.Method == SweepStage.Puzzle).Points.Single(p => p.Healed);
        // every baseline, a curve or not: one with no model measured at all is not compared, never left out of "every baseline"
        string? Skipped(string name) => models.FirstOrDefault(m => m.Name == name)?.Skipped;
        var noModel = models.Where(m => m.Kind == "baseline" && curves.All(c => c.Method != m.Name)).Select(m => m.Name).ToList();
        var beats = models.Where(m => m.Kind == "baseline").Select(m => m.Name).Concat(curves.Select(c => c.Method).Where(m => m != SweepStage.Puzzle))
            .Distinct().ToDictionary(name => name, name => noModel.Contains(name)
                ? EqualSpeed.Compare(own, new MethodCurve(name, [])) with { Rule = $"{name} has no measured model{(Skipped(name) is { } why ? $" ({why})" : "")}: not compared" }
                : EqualSpeed.Compare(own, curves.Single(c => c.Method == name)));
        var retention = child.Retention;
        var speedup = child.Speedup!.Scenario;
        var retentionMet = retention >= RetentionGoal;
        var speedMet = target is not { } t || speedup >= t;
        var notCompared = beats.Where(b => b.Value.Beats is null && !noModel.Contains(b.Key)).ToList();
        var outside = notCompared.Where(b => b.Value.Placement == EqualSpeed.Name(EqualSpeed.Placement.OutsideRange)).Select(b => b.Key).ToList();
        var undefined = notCompared.Select(b => b.Key).Except(outside).ToList();
        // where the costs are a roofline of other hardware, absolute times measured here say nothing of it
        var missed = scenario.Target is null ? Missed(constraints, scenario, child).ToList() : [];
        return new ReportGoals(RetentionGoal, target, retentionMet && speedMet && missed.Count == 0 && beats.Values.All(b => b.Beats == true))
        {
            Why = string.Join("; ", new[]
            {
                retention is null ? "the parent's top-1 on held-out text is 0, so retention is undefined" : null,
                missed.Count == 0 ? null : string.Join("; ", missed),
                outside.Count == 0 ? null : $"not compared at equal measured speed with {string.Join(", ", outside)}: " +
                    "no model of theirs was measured near the child's speed (add evaluation.speed_targets around it)",
                undefined.Count == 0 ? null : $"not compared at equal measured speed with {string.Join(", ", undefined)}: " +
                    "their KL or agreement at the child's speed is not finite in every model it would be read from (each one's rule names them)",
                noModel.Count == 0 ? null : $"not compared at equal measured speed with {string.Join(", ", noModel.Select(n => Skipped(n) is { } why ? $"{n} ({why})" : n))}: " +
                    "no model of theirs was measured",
            }.OfType<string>()) is { Length: > 0 } why ? why : null,
            Child = child.Name, Retention = retention, MeasuredSpeedup = speedup, RetentionMet = retentionMet, SpeedupMet = speedMet,
            BeatsBaselines = beats,
        };
    }

    /// <summary>The absolute time constraints the child's measured speed misses, in words (the search held it to them by
    /// the cost model; Speed measured it): generated tokens per second of the whole request, and its latency.</summary>
    static IEnumerable<string> Missed(ConstraintsSpec constraints, ScenarioSpec scenario, ReportEntry child)
    {
        if (child.ScenarioTokensPerS is not { } tokensPerS) yield break;
        if (constraints.ThroughputTokensPerS is { } least && tokensPerS < least)
            yield return $"measured {ReportFormat.F(tokensPerS, 0, least)} tokens/s, short of throughput_tokens_per_s {least:0.###}";
        var ms = 1e3 * scenario.Batch * scenario.Generate / tokensPerS;
        if (constraints.LatencyMs is { } most && ms > most)
            yield return $"measured {ReportFormat.F(ms, 1, most)} ms per scenario request, over latency_ms {most:0.###}";
    }

    /// <summary>A model's top-1 over the parent's; undefined (null) when the parent's is 0, as a parent with random
    /// weights has on a 128k vocabulary.</summary>
    internal static double? RetentionOf(double top1, double parentTop1) => parentTop1 > 0 ? top1 / parentTop1 : null;

    static IReadOnlyList<(double X, double Y)> Curve(string path) => File.Exists(path)
        ? RecordFile.Read<List<Training.CurvePoint>>(path).Select(p => ((double)p.Tokens, p.Loss)).ToList()
        : [];
}
