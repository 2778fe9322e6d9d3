using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Measure: in the spec's scenario on its device (scenario.device, else device), per batch size searched, one job
/// times every distinct subblock shape of the library (cost depends on shape, not layer), the non-block parts and the
/// whole parent, together (<see cref="CostMeter.InRounds"/>), each keeping its fastest: drift in the machine's load then touches
/// every cost alike, where costs timed in jobs of their own minutes apart disagreed by 10-40% on a shared CPU (the same
/// attention shape with fewer KV heads timed slower than the parent's). Weights are random: latency does not depend on
/// their values. Runs alone, so that no other job skews the timings. With <c>scenario.target</c> the costs are the
/// roofline of that hardware instead: nothing is timed.
/// </summary>
public sealed class MeasureStage : Stage<MeasureStage.MeasureJob>
{
    /// <summary>The costs to measure at one batch size (<c>Scenario.Batch</c>) on the cost device (<c>Scenario.Device</c>,
    /// resolved): every distinct attention and FFN shape of the library, the head and the whole parent.</summary>
    public sealed record MeasureJob(IReadOnlyList<AttentionConfig> Attention, IReadOnlyList<FfnConfig> Ffn, ModelConfig Parent,
        [property: SpecPath("scenario")] ScenarioSpec Scenario);

    public override string Name => "Measure";
    public override int Version => 10; // 10: each decode step keeps its fastest run (StepTimes); 9: models kept and timed one run at a time in turn; 8: rounds backwards every other round (CostMeter.InRounds); 7: one job per batch size, every cost timed in the same rounds; malloc keeps freed pages (MallocTuning); 5: typed job config; 4: blocks timed in depth, fastest of repeats; 3: scenario.target gives roofline costs
    public override IReadOnlyList<string> Upstream => [];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => JobContext.CostKind(spec);
    public override string Description => "measure each variant shape's cost in the scenario";
    public override bool Exclusive => true;
    public const string CostFile = "costs.json";

    /// <summary>How many rounds every cost is timed in; each keeps its fastest.</summary>
    public const int Rounds = 2;

    public static IReadOnlyList<int> Batches(PipelineSpec spec) => spec.Search.BatchSizes.Prepend(spec.Scenario.Batch).Distinct().ToList();

    /// <summary>The Measure job of a batch size.</summary>
    public static string JobId(int batch) => $"b{batch}";

    /// <summary>A cost's name, as <see cref="Lookup"/> finds it: <c>b{batch}.attention.{shape}</c>, <c>b{batch}.ffn.{shape}</c>,
    /// <c>b{batch}.head</c>, <c>b{batch}.parent</c>.</summary>
    public static string AttentionJob(int batch, AttentionConfig a) => $"b{batch}.attention.{a}";
    public static string FfnJob(int batch, FfnConfig f) => $"b{batch}.ffn.{f}";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentStage.PlannedConfig(spec);
        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var (attention, ffn) = VariantCatalog.Shapes(catalog);
        // the device costs are measured on, as resolved, and this job's batch size
        return Batches(spec).Select(batch => Job(JobId(batch),
            new MeasureJob(attention, ffn, parent, spec.Scenario with { Batch = batch, Device = JobContext.CostKind(spec) }))).ToList();
    }

    protected override void Run(MeasureJob job, JobContext context)
    {
        var (parent, scenario, batch) = (job.Parent, job.Scenario, job.Scenario.Batch);
        var shapes = job.Attention.Select(a => ($"attention.{a}", new BlockConfig(a, FfnConfig.NoOp)))
            .Concat(job.Ffn.Select(f => ($"ffn.{f}", new BlockConfig(AttentionConfig.NoOp, f)))).ToList();
        var costs = new SortedDictionary<string, MeasuredCost>(StringComparer.Ordinal);
        string? device = null;
        if (scenario.Target is { } target)
        {
            // hardware that is not here: the roofline of its data sheet, nothing is timed
            var hw = Hardware.Known[target];
            foreach (var (name, shape) in shapes) costs[name] = Roofline.BlockCost(parent, shape, batch, scenario.Prompt, scenario.Generate, hw);
            costs["head"] = Roofline.HeadCost(parent, batch, scenario.Prompt, hw);
            costs["parent"] = Roofline.ModelCost(parent, batch, scenario.Prompt, scenario.Generate, hw);
        }
        else
        {
            var on = context.CostDevice;
            var depth = Depth(parent);
            var models = new List<(string Name, ModelConfig Config)> { ("head", CostMeter.HeadModel(parent)), ("parent", parent) };
            models.AddRange(shapes.Select(s => (s.Item1, CostMeter.ShapeModel(parent, s.Item2, depth))));
            Training.ProgressLine? progress = null;
            var timed = CostMeter.InRounds([.. models.Select(m => m.Config)], scenario.Timing(), batch, Rounds, on, (done, total) =>
                (progress ??= new Training.ProgressLine("time", total, context.Log, unit: "run")).Report(done, double.NaN));
            progress?.Done(progress.Total, double.NaN);
            var whole = models.Select((m, i) => (m.Name, Cost: timed[i])).ToDictionary(m => m.Name, m => m.Cost);
            costs["head"] = whole["head"];
            costs["parent"] = whole["parent"];
            foreach (var (name, shape) in shapes) costs[name] = CostMeter.PerBlock(whole[name], whole["head"], parent, shape, depth, on);
            device = on.ToString();
        }
        var record = new CostsRecord(costs, CostModel(scenario), batch)
        {
            Threads = device is null ? null : TorchSharp.torch.get_num_threads(), Device = device, Rounds = device is null ? null : Rounds,
        };
        RecordFile.Write(context.Output(CostFile), record);
        context.Metrics["cost_model"] = record.CostModel;
        if (device is not null) context.Metrics["runtime"] = Pipeline.Spec.Internal.SpecNames.Of(scenario.Runtime);
        context.Metrics["costs"] = costs.Count;
        context.Metrics["parent_scenario_s"] = costs["parent"].ScenarioSeconds(scenario.Generate);
        if (device is not null) (context.Metrics["threads"], context.Metrics["device"]) = (record.Threads, device);
        foreach (var (name, cost) in costs)
            context.Log.WriteLine($"{JobId(batch)}.{name}: prefill {cost.PrefillSeconds * 1e3:F2} ms, decode {cost.DecodeSecondsPerToken * 1e3:F3} ms/token");
    }

    /// <summary>How many blocks of one shape a block's timing model has: the parent's depth, at most 8 (a few layers
    /// already stream their weights from memory; more only lengthen the measurement).</summary>
    public static int Depth(ModelConfig parent) => Math.Min(parent.NumLayers, 8);

    /// <summary>What the costs describe, as the report and the model card name it.</summary>
    public static string CostModel(PipelineSpec spec) => CostModel(spec.Scenario with { Device = JobContext.CostKind(spec) });

    /// <summary>What the costs of a scenario (its device resolved) describe.</summary>
    public static string CostModel(ScenarioSpec scenario) => scenario.Target is { } target
        ? $"roofline of {Hardware.Known[target].Name} (bfloat16, modelled from its data sheet, not measured)"
        : $"block costs measured on {ComputeDevice.Name(scenario.Device ?? DeviceKind.Cpu)} ({RuntimeName(scenario.Runtime)}, each shape inside a model of its own depth, every cost in the same rounds), added up, against the parent timed whole";

    /// <summary>How a runtime runs the timed steps, as the cost model and the measured speeds name it.</summary>
    public static string RuntimeName(TimingRuntime runtime) => runtime == TimingRuntime.CudaGraphs
        ? "the prefill and each decode step replayed as one CUDA graph, as serving runtimes decode" : "eager TorchSharp";

    /// <summary>The costs a Measure job wrote.</summary>
    public static CostsRecord Read(string jobDirectory) => RecordFile.Read<CostsRecord>(Path.Combine(jobDirectory, CostFile));

    /// <summary>Every cost by its name (<see cref="AttentionJob"/>, <see cref="FfnJob"/>, <c>b{batch}.head</c>,
    /// <c>b{batch}.parent</c>), reading batch b's job from <c>directoryOf(JobId(b))</c> once.</summary>
    public static Func<string, MeasuredCost> Lookup(Func<string, string> directoryOf)
    {
        var read = new Dictionary<string, CostsRecord>();
        return name =>
        {
            var dot = name.IndexOf('.');
            var job = name[..dot];
            if (!read.TryGetValue(job, out var record)) read[job] = record = Read(directoryOf(job));
            return record.Costs.TryGetValue(name[(dot + 1)..], out var cost) ? cost
                : throw new KeyNotFoundException($"Measure job {job} has no cost '{name[(dot + 1)..]}'");
        };
    }

    /// <summary>costs.json: every cost by name (<c>attention.{shape}</c>, <c>ffn.{shape}</c>, <c>head</c>, <c>parent</c>),
    /// and how they were obtained (the cost model; for timings, torch's threads, the device and the rounds).</summary>
    public sealed record CostsRecord(IReadOnlyDictionary<string, MeasuredCost> Costs, string CostModel, int Batch)
    {
        public int? Threads { get; init; }
        public string? Device { get; init; }
        public int? Rounds { get; init; }
    }
}
