using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Speed: one job times the parent and every model the report compares (each child and baseline the search chose, and
/// every model of Sweep) in the spec's scenario on the cost device, in one process, one run after the other, each keeping its
/// fastest prefill and decode; every measured speedup in the report is then a ratio to the same parent timing. Each
/// model timed in a job of its own beside a parent of its own had its parent's speed vary by ±11% between jobs on a
/// shared 2-core CPU, and the same child measured 1.85× and 2.49× in two runs. Weights are random: latency depends on
/// the architecture, not on the weights' values, so none is loaded from disk (<see cref="CostMeter.InRounds"/> keeps
/// them all, or builds one at a time where they do not fit). Architectures that are equal are timed once. Runs alone,
/// so that no other job skews the timings.
/// </summary>
public sealed class SpeedStage : Stage<SpeedStage.SpeedJob>
{
    /// <summary>The models to time by name (children and baselines, then Sweep's), the parent's architecture, the search
    /// space their variant ids come from, and the scenario (its device resolved to the cost device).</summary>
    public sealed record SpeedJob(IReadOnlyList<string> Models, IReadOnlyList<string> SweepModels, ModelConfig Parent,
        [property: SpecPath("search_space")] SearchSpaceSpec SearchSpace, [property: SpecPath("scenario")] ScenarioSpec Scenario,
        [property: SpecPath("dtype"), KeyedWhenSet] string? Dtype = null);

    /// <summary>speeds.json: the parent's speed, each model's speed and speedup against it (or why it has none), and
    /// where and how they were measured.</summary>
    public sealed record SpeedsRecord(Speeds Parent, IReadOnlyDictionary<string, ModelSpeed> Models, MeasuredScenario Scenario, int Rounds)
    {
        /// <summary>How many timings of every model its speed is the faster of: 2 when the first timed the parent more than
        /// <see cref="ClosedLoop.Steady"/> from the Measure job's time (the machine's speed moved).</summary>
        public int Timings { get; init; } = 1;

        public static SpeedsRecord Read(string jobDirectory) => RecordFile.Read<SpeedsRecord>(Path.Combine(jobDirectory, SpeedsFile));

        /// <summary>A model's measured speed, or an error naming the job and the model when it has none.</summary>
        public ModelSpeed Of(string model) => Models.TryGetValue(model, out var s) && s.Skipped is null ? s
            : throw new KeyNotFoundException($"{SpeedsFile} has no speed for '{model}'" + (s?.Skipped is { } why ? $" ({why})" : ""));
    }

    /// <summary>One model's speed and its speedup against the parent's (null with <see cref="Skipped"/> when the model
    /// does not exist: a baseline or child that could not be chosen).</summary>
    public sealed record ModelSpeed(Speeds? Speed, Speedups? Speedup)
    {
        public string? Skipped { get; init; }
    }

    /// <summary>Tokens per second of a scenario: prompt tokens per prefill second, generated tokens per decode second,
    /// and generated tokens per second of the whole scenario (prefill included), the measure the constraints use.</summary>
    public sealed record Speeds(double PrefillTokensPerS, double DecodeTokensPerS, double ScenarioTokensPerS)
    {
        public static Speeds Of(MeasuredCost c, ScenarioSpec s, int batch) => new(
            (double)batch * s.Prompt / c.PrefillSeconds, batch / c.DecodeSecondsPerToken,
            (double)batch * s.Generate / c.ScenarioSeconds(s.Generate));

        public Speedups Against(Speeds parent) => new(PrefillTokensPerS / parent.PrefillTokensPerS, DecodeTokensPerS / parent.DecodeTokensPerS,
            ScenarioTokensPerS / parent.ScenarioTokensPerS);
    }

    public sealed record Speedups(double Prefill, double Decode, double Scenario);

    /// <summary>The machine and runtime timings ran on, as <see cref="MeasuredScenario.MeasuredOn"/> and Measure's costs
    /// name it: the CPU's model and torch's threads, or the GPU's name and the runtime, and the dtype where one is set.</summary>
    public static string Machine(DeviceKind on, TimingRuntime runtime, string? dtype, int threads) =>
        (on == DeviceKind.Cpu ? $"{Packaging.BuildFacts.Cpu()}, {threads} threads"
            : $"{CudaDriver.DeviceName() ?? "a CUDA GPU"}, {MeasureStage.RuntimeName(runtime)}") + (dtype is { } d ? $", {d}" : "");

    /// <summary>Where and how the speeds were measured.</summary>
    public sealed record MeasuredScenario(string Device, int Batch, int Prompt, int Generate, int TorchThreads, string MeasuredOn);

    public override string Name => "Speed";
    public override int Version => 6; // 6: a prefill computes the logits of each sequence's last position only (CostMeter.Steps); 5: timed twice when the parent's first timing is more than 10% from the Measure job's; 4: two copies of each model timed in turn (CostMeter.Copies); 3: each decode step keeps its fastest run (StepTimes); 2: models kept and timed one run at a time in turn (CostMeter.InRounds)
    public override IReadOnlyList<string> Upstream => ["Search", "Sweep"];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => JobContext.CostKind(spec);
    /// <summary>The parent is timed whole (as every model is, whether the costs were timed or a roofline).</summary>
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) => MemoryFloor.Parent(spec, JobContext.CostKind(spec));
    public override string Description => "time the parent and every compared model in the scenario, in one job";
    public override bool Exclusive => true; // it times models
    public const string SpeedsFile = "speeds.json";

    /// <summary>The rounds of <see cref="CostMeter.InRounds"/>: with models built one at a time, every model once per
    /// round; with models kept, as many runs per model as those rounds make.</summary>
    public const int Rounds = 2;

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var inputs = new Dictionary<string, JobPlan> { ["search"] = planned["Search"].Single(j => j.Id == $"b{spec.Scenario.Batch}") };
        var sweep = planned.GetValueOrDefault("Sweep") ?? [];
        foreach (var j in sweep) inputs["sweep:" + j.Id] = j;
        return [Job($"b{spec.Scenario.Batch}", new SpeedJob(HealStage.ModelIds(spec), [.. sweep.Select(j => j.Id)], ParentStage.PlannedConfig(spec),
            spec.SearchSpace, spec.Scenario with { Device = JobContext.CostKind(spec) }, ComputeDevice.KeyDType(JobContext.CostKind(spec), spec.Dtype)), inputs)];
    }

    protected override void Run(SpeedJob job, JobContext context)
    {
        var (parent, scenario, batch) = (job.Parent, job.Scenario, job.Scenario.Batch);
        var configs = new List<(string Name, ModelConfig? Config, string? Skipped)>();
        foreach (var id in job.Models)
        {
            var (architecture, _, skipped) = HealStage.Chosen(context.Input("search"), id);
            configs.Add((id, architecture is null ? null : VariantCatalog.ToModel(parent, job.SearchSpace.Alternatives, architecture.Layers), skipped));
        }
        foreach (var id in job.SweepModels)
        {
            var sweep = SweepStage.SweepResult.Read(context.Input("sweep:" + id));
            configs.Add((id, sweep.Skipped is null ? VariantCatalog.ToModel(parent, job.SearchSpace.Alternatives, sweep.Layers) : null, sweep.Skipped));
        }

        // equal architectures are timed once: by their config's canonical JSON
        var distinct = new List<ModelConfig> { parent };
        var index = new Dictionary<string, int>(StringComparer.Ordinal) { [Canonical(parent)] = 0 };
        var slot = configs.Select(c => c.Config is { } m ? index.TryGetValue(Canonical(m), out var i) ? i : Add(m) : -1).ToList();
        int Add(ModelConfig m)
        {
            distinct.Add(m);
            return index[Canonical(m)] = distinct.Count - 1;
        }

        var expected = scenario.Target is null ? SearchResult.Read(context.Input("search")).Parent.MeasuredTimeS : (double?)null;
        var (costs, timings) = Confirmed(() => Time(distinct, scenario, context.CostDevice, context.Log), expected, scenario.Generate, context.Log);
        var parentSpeed = Speeds.Of(costs[0], scenario, batch);
        var models = new SortedDictionary<string, ModelSpeed>(StringComparer.Ordinal);
        for (var i = 0; i < configs.Count; i++)
        {
            var (name, _, skipped) = configs[i];
            if (slot[i] < 0)
            {
                models[name] = new ModelSpeed(null, null) { Skipped = skipped };
                continue;
            }
            var speed = Speeds.Of(costs[slot[i]], scenario, batch);
            models[name] = new ModelSpeed(speed, speed.Against(parentSpeed));
            context.Log.WriteLine($"{name}: prefill {speed.PrefillTokensPerS:N0} tok/s, decode {speed.DecodeTokensPerS:N0} tok/s, " +
                                  $"{speed.ScenarioTokensPerS / parentSpeed.ScenarioTokensPerS:0.00}x the parent's scenario throughput");
        }
        var threads = TorchSharp.torch.get_num_threads();
        var on = context.CostDevice.Kind;
        var record = new SpeedsRecord(parentSpeed, models, new MeasuredScenario(ComputeDevice.Name(on), batch, scenario.Prompt, scenario.Generate, threads,
            Machine(on, scenario.Runtime, job.Dtype, threads)), Rounds)
        { Timings = timings };
        RecordFile.Write(context.Output(SpeedsFile), record);
        context.Log.WriteLine($"parent: prefill {parentSpeed.PrefillTokensPerS:N0} tok/s, decode {parentSpeed.DecodeTokensPerS:N0} tok/s; " +
                              $"{distinct.Count} architectures timed (the parent's included) for {configs.Count} models");
        context.Metrics["models"] = configs.Count;
        context.Metrics["runtime"] = Pipeline.Spec.Internal.SpecNames.Of(scenario.Runtime);
        context.Metrics["architectures"] = distinct.Count;
        context.Metrics["parent_scenario_tokens_per_s"] = parentSpeed.ScenarioTokensPerS;
        context.Metrics["timings"] = timings;
        foreach (var (name, s) in models)
            if (s.Speedup is { } up) context.Metrics[$"{name}.speedup"] = up.Scenario;
    }

    /// <summary>
    /// Every model's costs from <paramref name="time"/> (the parent's first), timed once more when the parent's scenario
    /// time is more than <see cref="ClosedLoop.Steady"/> from <paramref name="expectedParent"/> (the Measure job's, which
    /// every predicted speedup refers to): the machine's speed moved under one of the two, so the faster prefill and
    /// decode of each model's two timings count. On a shared 2-core CPU a Speed job once timed the parent at 211 ms
    /// against 150 ms in Measure, and moved every measured speedup by up to 20%; timed again, 4% from it.
    /// </summary>
    internal static (IReadOnlyList<MeasuredCost> Costs, int Timings) Confirmed(Func<IReadOnlyList<MeasuredCost>> time, double? expectedParent,
        int generate, TextWriter log)
    {
        var costs = time();
        var parent = costs[0].ScenarioSeconds(generate);
        if (ClosedLoop.IsSteady(parent, expectedParent)) return (costs, 1);
        log.WriteLine($"the parent timed {parent * 1e3:F1} ms per scenario request, more than {ClosedLoop.Steady:P0} from the Measure job's " +
                      $"{expectedParent * 1e3:F1} ms: every model is timed again, the faster of both counting");
        var again = time();
        return ([.. costs.Zip(again, (a, b) => a with
        {
            PrefillSeconds = Math.Min(a.PrefillSeconds, b.PrefillSeconds), DecodeSecondsPerToken = Math.Min(a.DecodeSecondsPerToken, b.DecodeSecondsPerToken),
        })], 2);
    }

    /// <summary>Every model's fastest prefill and decode over <see cref="Rounds"/> rounds (<see cref="CostMeter.InRounds"/>),
    /// in the models' order.</summary>
    internal static IReadOnlyList<MeasuredCost> Time(IReadOnlyList<ModelConfig> models, ScenarioSpec scenario, ComputeDevice on, TextWriter log) =>
        CostMeter.InRoundsLogged(models, scenario.Timing(), scenario.Batch, Rounds, on, log);

    static string Canonical(ModelConfig config) => System.Text.Json.JsonSerializer.Serialize(config, PuzzleJson.Options);
}
