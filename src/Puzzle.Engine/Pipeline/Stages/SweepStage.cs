using System.Globalization;
using Puzzle.Engine.Data;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;
using static Puzzle.Engine.Pipeline.Stages.SearchStage;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Sweep: every method (the Puzzle search and each baseline) at the further throughput targets of
/// <c>evaluation.speed_targets</c>, one job per method and target: chosen under the spec's constraints with that
/// throughput target (by the cost model; no closed loop), assembled from the library without GKD, and evaluated as
/// Evaluate does (KL, agreement, top-1 on the same held-out sequences), without the multiple-choice tasks; the Speed job
/// times it. With the healed models at the spec's target these give each method a curve of quality against measured
/// speed, on which the report compares methods at equal measured speed.
/// </summary>
public sealed class SweepStage : Stage<SweepStage.SweepJob>
{
    /// <summary>The Puzzle search's name among the methods (the others are the baselines').</summary>
    public const string Puzzle = "puzzle";

    /// <summary>One method at one throughput target: the problem's settings and the parent's architecture, what the
    /// method itself reads (the search's method and time limit for puzzle, the seed for random; null otherwise),
    /// the held-out tokens, and the device quality is computed on.</summary>
    public sealed record SweepJob(string Method, double Target, ArchitectureProblem.Settings Problem, ModelConfig Parent,
        [property: SpecPath("search.method")] SearchMethod? Search, [property: SpecPath("search.time_limit_s")] double? TimeLimitS,
        [property: SpecPath("evaluation.seed")] long? Seed, [property: SpecPath("evaluation.tokens")] long Tokens, string? Device);

    /// <summary>sweep.json: the model a method chose at a target (or why none) and its quality against the parent on the
    /// held-out sequences Evaluate uses.</summary>
    public sealed record SweepResult(string Method, double Target)
    {
        public string? Skipped { get; init; }
        public IReadOnlyList<LayerChoice> Layers { get; init; } = [];
        public double PredictedSpeedup { get; init; }
        public long Parameters { get; init; }
        public long Tokens { get; init; }
        public double Loss { get; init; }
        public double Top1 { get; init; }
        public double Kl { get; init; }
        public double Agreement { get; init; }

        public static SweepResult Read(string jobDirectory) => RecordFile.Read<SweepResult>(Path.Combine(jobDirectory, SweepFile));
    }

    public override string Name => "Sweep";
    public override int Version => 5; // 5: predicted speedups through the size curve; 4: speedups against the parent's summed blocks; 3: no timing (the Speed job times every model); 2: speedups against the parent's whole-model measurement; timings with malloc keeping freed pages
    public override IReadOnlyList<string> Upstream => ["Data", "Parent", "Distill", "Score", "Measure"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => MemoryFloor.Parent(spec, spec.Device);
    public override string Description => "choose every method at the extra speed targets, assemble it (no GKD), evaluate it";
    public const string SweepFile = "sweep.json";

    /// <summary>A job's id: the method and its target, e.g. <c>uniform.x2</c>.</summary>
    public static string Id(string method, double target) => $"{method}.x{target.ToString("0.###", CultureInfo.InvariantCulture)}";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var targets = EvaluationSpec.ExtraTargets(spec.Evaluation, spec.Constraints);
        if (targets.Count == 0) return [];
        var inputs = new Dictionary<string, JobPlan> { ["parent"] = planned["Parent"].Single(), ["data"] = planned["Data"].Single() };
        foreach (var j in planned["Score"]) inputs["score:" + j.Id] = j;
        foreach (var j in planned["Measure"]) inputs["cost:" + j.Id] = j;
        foreach (var j in planned["Distill"]) inputs["variant:" + j.Id] = j;
        var settings = ArchitectureProblem.Settings.Of(spec);
        var parent = ParentStage.PlannedConfig(spec);
        var device = ComputeDevice.KeyName(spec.Device, spec.Dtype);
        var methods = spec.Evaluation.Baselines.Select(b => (Name: SearchStage.BaselineName(b), Baseline: (Baseline?)b)).Prepend((Puzzle, null));
        return [.. targets.SelectMany(t => methods.Select(m => Job(Id(m.Name, t), new SweepJob(m.Name, t, settings, parent,
            m.Baseline is null ? spec.Search.Method : null, m.Baseline is null ? spec.Search.TimeLimitS : null,
            m.Baseline == Baseline.Random ? spec.Evaluation.Seed : null, spec.Evaluation.Tokens, device), inputs)))];
    }

    /// <summary>
    /// The jobs at one target are built together: one process loads the parent and the held-out text once and runs
    /// the parent once per batch for every method's model, instead of once per model, while the parent and the group's
    /// models fit in a quarter of the memory they run in (<see cref="GroupFits"/>: a 1B parent's group on one GPU of
    /// 80 GB or more; an 8B parent's jobs run alone).
    /// </summary>
    public override IEnumerable<JobPlan> Companions(JobPlan job, IReadOnlyList<JobPlan> stageJobs, PipelineSpec spec)
    {
        var own = job.ConfigAs<SweepJob>();
        var group = stageJobs.Where(j => j != job && j.ConfigAs<SweepJob>().Target == own.Target).ToList();
        return GroupFits(Cost.CostMeter.Parameters(own.Parent), group.Count + 1, ComputeDevice.ElementBytesOn(spec.Device, spec.Dtype),
            PlanMemory.Of(spec.Device)) ? group : [];
    }

    /// <summary>Whether the parent and <paramref name="models"/> models of up to its size, in weights of
    /// <paramref name="weightBytes"/> bytes (4 in float32, 2 in bfloat16), fit in a quarter of <paramref name="memoryBytes"/>
    /// (host memory on the CPU, the GPU's on CUDA; unknown memory never fits).</summary>
    internal static bool GroupFits(long parentParameters, int models, int weightBytes, long? memoryBytes) =>
        memoryBytes is { } memory && parentParameters * weightBytes * (models + 1) <= memory / 4;

    protected override void Run(SweepJob job, JobContext context) => RunTogether([context]);

    /// <summary>Chooses each job's architecture, assembles every one chosen, and evaluates them all against one pass of
    /// the parent per batch (each model's sums exactly as alone).</summary>
    public override void RunTogether(IReadOnlyList<JobContext> contexts)
    {
        var chosen = new List<(JobContext Context, SweepJob Job, IReadOnlyList<LayerChoice> Layers, double Predicted)>();
        foreach (var context in contexts)
        {
            var job = context.Job.ConfigAs<SweepJob>();
            var (settings, parentConfig) = (job.Problem, job.Parent);
            var scores = Enumerable.Range(0, parentConfig.NumLayers).Select(l => ScoreStage.LayerScores.Read(context.Input($"score:layer{l}"))).ToList();
            var costs = MeasureStage.Lookup(job => context.Input("cost:" + job));
            var (problem, own, ownAt) = ArchitectureProblem.Build(settings, parentConfig, scores, costs.Cost, costs.Curve);
            problem = problem with { Limits = ArchitectureProblem.Limits(settings, ownAt, job.Target) };
            var (architecture, why) = Choose(job, problem, scores);
            if (architecture is null)
            {
                RecordFile.Write(context.Output(SweepFile), new SweepResult(job.Method, job.Target) { Skipped = why });
                context.Metrics["skipped"] = why;
                context.Log.WriteLine($"{context.Job.Id}: none ({why})");
                continue;
            }
            chosen.Add((context, job, ArchitectureProblem.AsLibraryChoices(parentConfig, settings, architecture.Layers),
                own.Speedup(architecture.Cost(ArchitectureProblem.Time))));
        }
        Phase(contexts, "choose");
        if (chosen.Count == 0) return;

        var first = chosen[0].Context;
        var device = first.Device;
        using var parent = ParentModel.Load(ParentStage.ModelDirectory(first), device);
        var models = new List<CausalLM>();
        try
        {
            foreach (var (context, job, layers, _) in chosen)
            {
                var config = VariantCatalog.ToModel(parent.Config, job.Problem.SearchSpace.Alternatives, layers);
                // never trained: the parent's embeddings and head serve each model as they are, with no copy
                models.Add(device.Place(ChildAssembler.Assemble(parent, config, layers, variant =>
                    context.Job.Inputs.ContainsKey("variant:" + variant) ? Path.Combine(context.Input("variant:" + variant), DistillStage.WeightsFile) : null,
                    shareEmbeddings: true)));
            }
            Phase(contexts, "load and assemble");
            using var heldout = TokenDataset.Open(Path.Combine(first.Input("data"), DataStage.Folder), DataSplit.Evaluation);
            var label = chosen.Count == 1 ? first.Job.Id : $"{chosen.Count} models at x{chosen[0].Job.Target.ToString("0.###", CultureInfo.InvariantCulture)}";
            var qualities = EvaluateStage.Quality(models, parent, heldout, chosen[0].Job.Tokens, $"evaluate {label}", first.Log);
            Phase(contexts, "evaluate");
            foreach (var ((context, job, layers, predicted), model, quality) in chosen.Zip(models, qualities))
            {
                var result = new SweepResult(job.Method, job.Target)
                {
                    Layers = layers, PredictedSpeedup = predicted, Parameters = model.ParameterCount, Tokens = quality.Tokens, Loss = quality.Loss,
                    Top1 = quality.Top1, Kl = quality.Kl ?? 0, Agreement = quality.Agreement ?? 1,
                };
                RecordFile.Write(context.Output(SweepFile), result);
                context.Metrics["kl"] = result.Kl;
                context.Metrics["agreement"] = result.Agreement;
                context.Metrics["predicted_speedup"] = predicted;
                context.Log.WriteLine($"{context.Job.Id}: assembled, not healed: KL {result.Kl:F4}, agreement {result.Agreement:P1}, top-1 {result.Top1:P2}; " +
                                      $"predicted {predicted:0.00}x the parent's scenario throughput");
            }
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>The method's architecture under the target's limits, or why it has none.</summary>
    static (Architecture? Chosen, string Why) Choose(SweepJob job, SearchProblem problem, IReadOnlyList<ScoreStage.LayerScores> scores)
    {
        if (job.Method == Puzzle)
        {
            var found = PuzzleSearch.TrySolve(problem, job.Search ?? SearchMethod.Mip, 1, 1, TimeSpan.FromSeconds(job.TimeLimitS ?? 60));
            return (found.Count > 0 ? found[0] : null, "no architecture meets the constraints at this target");
        }
        var baseline = Enum.GetValues<Baseline>().Single(b => SearchStage.BaselineName(b) == job.Method);
        return SearchStage.ChooseBaseline(baseline, problem, job.Parent, job.Problem.SearchSpace, job.Seed ?? 0, scores);
    }
}
