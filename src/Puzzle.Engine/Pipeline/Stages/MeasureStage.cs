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
/// attention shape with fewer KV heads timed slower than the parent's). In the same rounds it times a few sampled
/// architectures whole and fits the size curve (<see cref="SizeCurve"/>) that turns summed blocks into a model's whole
/// time. Weights are random: latency does not depend on their values. Runs alone, so that no other job skews the
/// timings. With <c>scenario.target</c> the costs are the roofline of that hardware instead: nothing is timed, and
/// whole time is the sum.
/// </summary>
public sealed class MeasureStage : Stage<MeasureStage.MeasureJob>
{
    /// <summary>The costs to measure at one batch size (<c>Scenario.Batch</c>) on the cost device (<c>Scenario.Device</c>,
    /// resolved): every distinct attention and FFN shape of the library, the head and the whole parent.</summary>
    public sealed record MeasureJob(IReadOnlyList<AttentionConfig> Attention, IReadOnlyList<FfnConfig> Ffn, ModelConfig Parent,
        [property: SpecPath("scenario")] ScenarioSpec Scenario, [property: SpecPath("dtype"), KeyedWhenSet] string? Dtype = null);

    public override string Name => "Measure";
    public override int Version => 15; // 15: a prefill computes the logits of each sequence's last position only, as a serving runtime does (timed and on the roofline); 14: the size curve fitted to the block shapes' models too; 13: two copies of each model timed in turn (CostMeter.Copies); 12: a third sample near 20% of the parent's block parameters; 11: sampled architectures timed whole, the size curve fitted to them; 10: each decode step keeps its fastest run (StepTimes); 9: models kept and timed one run at a time in turn; 8: rounds backwards every other round (CostMeter.InRounds); 7: one job per batch size, every cost timed in the same rounds; malloc keeps freed pages (MallocTuning); 5: typed job config; 4: blocks timed in depth, fastest of repeats; 3: scenario.target gives roofline costs
    public override IReadOnlyList<string> Upstream => [];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => JobContext.CostKind(spec);
    /// <summary>The parent is timed whole (none is built where the costs are a roofline).</summary>
    public override MemoryFloor? LeastMemory(IReadOnlyList<JobPlan> group, PipelineSpec spec) =>
        spec.Scenario.Target is null ? MemoryFloor.Parent(spec, JobContext.CostKind(spec)) : null;
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
            new MeasureJob(attention, ffn, parent, spec.Scenario.AsCosted() with { Batch = batch, Device = JobContext.CostKind(spec) },
                ComputeDevice.KeyDType(JobContext.CostKind(spec), spec.Dtype)))).ToList();
    }

    protected override void Run(MeasureJob job, JobContext context)
    {
        var (parent, scenario, batch) = (job.Parent, job.Scenario, job.Scenario.Batch);
        var shapes = job.Attention.Select(a => ($"attention.{a}", new BlockConfig(a, FfnConfig.NoOp)))
            .Concat(job.Ffn.Select(f => ($"ffn.{f}", new BlockConfig(AttentionConfig.NoOp, f)))).ToList();
        var costs = new SortedDictionary<string, MeasuredCost>(StringComparer.Ordinal);
        string? device = null, measuredOn = null;
        CurveFit? fit = null;
        if (scenario.Target is { } target)
        {
            // hardware that is not here: the roofline of its data sheet, nothing is timed
            var hw = Hardware.Known[target];
            foreach (var (name, shape) in shapes) costs[name] = Roofline.BlockCost(parent, shape, batch, scenario.Prompt, scenario.Generate, hw);
            costs["head"] = Roofline.HeadCost(parent, batch, hw);
            costs["parent"] = Roofline.ModelCost(parent, batch, scenario.Prompt, scenario.Generate, hw);
        }
        else
        {
            var on = context.CostDevice;
            var depth = Depth(parent);
            var models = new List<(string Name, ModelConfig Config)> { ("head", CostMeter.HeadModel(parent)), ("parent", parent) };
            models.AddRange(shapes.Select(s => (s.Item1, CostMeter.ShapeModel(parent, s.Item2, depth))));
            var samples = Samples(parent, job.Attention, job.Ffn);
            models.AddRange(samples.Select((m, i) => ($"sample{i + 1}", m)));
            var timed = CostMeter.InRoundsLogged([.. models.Select(m => m.Config)], scenario.Timing(), batch, Rounds, on, context.Log);
            var whole = models.Select((m, i) => (m.Name, Cost: timed[i])).ToDictionary(m => m.Name, m => m.Cost);
            costs["head"] = whole["head"];
            costs["parent"] = whole["parent"];
            foreach (var (name, shape) in shapes) costs[name] = CostMeter.PerBlock(whole[name], whole["head"], parent, shape, depth, on);
            // each block shape's model is a whole model too, whose summed blocks are its whole time: the curve is fitted
            // to them beside the samples, at no extra timing
            var shapeModels = shapes.Where(s => s.Item2 != new BlockConfig(AttentionConfig.NoOp, FfnConfig.NoOp))
                .Select(s => new SampleTiming($"{s.Item1} x{depth}", costs["head"].ScenarioSeconds(scenario.Generate) + depth * costs[s.Item1].ScenarioSeconds(scenario.Generate),
                    whole[s.Item1].ScenarioSeconds(scenario.Generate))).ToList();
            fit = Fit(parent, costs, samples.Select((m, i) => (m, whole[$"sample{i + 1}"])).ToList(), scenario.Generate, shapeModels);
            device = on.ToString();
            measuredOn = SpeedStage.Machine(on.Kind, scenario.Runtime, job.Dtype, TorchSharp.torch.get_num_threads());
        }
        var record = new CostsRecord(costs, CostModel(scenario), batch)
        {
            Threads = device is null ? null : TorchSharp.torch.get_num_threads(), Device = device, Rounds = device is null ? null : Rounds, Curve = fit,
            MeasuredOn = measuredOn,
        };
        RecordFile.Write(context.Output(CostFile), record);
        context.Metrics["cost_model"] = record.CostModel;
        if (device is not null) context.Metrics["runtime"] = Pipeline.Spec.Internal.SpecNames.Of(scenario.Runtime);
        context.Metrics["costs"] = costs.Count;
        context.Metrics["parent_scenario_s"] = costs["parent"].ScenarioSeconds(scenario.Generate);
        if (device is not null) (context.Metrics["threads"], context.Metrics["device"]) = (record.Threads, device);
        foreach (var (name, cost) in costs)
            context.Log.WriteLine($"{JobId(batch)}.{name}: prefill {cost.PrefillSeconds * 1e3:F2} ms, decode {cost.DecodeSecondsPerToken * 1e3:F3} ms/token");
        if (fit is not null)
        {
            context.Metrics["size_curve_k"] = fit.K;
            var parentSummed = fit.ParentSummedSeconds;
            var parentWhole = costs["parent"].ScenarioSeconds(scenario.Generate);
            foreach (var (sample, i) in fit.Samples.Select((x, i) => (x, i)))
                context.Log.WriteLine($"{JobId(batch)}.{(sample.Blocks.Contains(" x") ? "shape" : $"sample{i + 1}")} [{sample.Blocks}]: blocks sum to {sample.SummedSeconds / parentSummed:P1} of the parent's, " +
                                      $"whole time {sample.WholeSeconds / parentWhole:P1} of the parent's");
            context.Log.WriteLine($"{JobId(batch)}: size curve K = {fit.K:0.000} (a model whose blocks sum to r of the parent's runs in r·(1 − K + K·r) of its whole time)");
        }
    }

    /// <summary>The sizes of the architectures the Measure job times whole to fit the size curve, as their blocks'
    /// parameters over the parent's: around the sizes the search chooses among (1.5x to 2x on the default pipeline),
    /// and one near the smallest models the report compares (ShortGPT at 2x kept a quarter of the default parent's
    /// blocks, and with only the two larger samples its predicted speedup missed by 10.6% and 11.4% in two of six main
    /// jobs). Each costs the Measure job less than a parent's timing: the third added 1.4 s to its 10.8 s on the default
    /// pipeline.</summary>
    static readonly double[] SampleSizes = [0.75, 0.45, 0.2];

    /// <summary>The architectures timed whole to fit the size curve: among 256 drawn with a fixed seed from the
    /// library's shapes (each keeping a parent's subblock with a probability drawn per architecture), the one nearest
    /// each of <see cref="SampleSizes"/>; the same job always times the same ones.</summary>
    public static IReadOnlyList<ModelConfig> Samples(ModelConfig parent, IReadOnlyList<AttentionConfig> attention, IReadOnlyList<FfnConfig> ffn)
    {
        var random = new Random(SampleSeed);
        T Pick<T>(T own, IReadOnlyList<T> shapes, double keep)
        {
            var others = shapes.Where(s => !Equals(s, own)).ToList();
            return random.NextDouble() < keep || others.Count == 0 ? own : others[random.Next(others.Count)];
        }
        double Parameters(ModelConfig m) => m.Blocks.Sum(b => (double)Roofline.BlockParameters(m, b));
        var candidates = Enumerable.Range(0, 256).Select(_ => random.NextDouble()).Select(keep => parent with
        {
            Blocks = parent.Blocks.Select(b => new BlockConfig(Pick(b.Attention, attention, keep), Pick(b.Ffn, ffn, keep))).ToArray(),
        }).Where(m => !m.Blocks.SequenceEqual(parent.Blocks)).ToList();
        var whole = Parameters(parent);
        return [.. SampleSizes.Select(size => candidates.MinBy(c => Math.Abs(Parameters(c) / whole - size))).OfType<ModelConfig>().Distinct()];
    }

    const int SampleSeed = 20241129;

    /// <summary>The size curve fitted to the sampled architectures' whole times against their blocks' summed costs (the
    /// head's included), each relative to the parent's, and to <paramref name="shapeModels"/>: the block shapes' models,
    /// whole models of one shape each (summed: the head and their blocks). Without them the curve, fitted to samples whose
    /// layers mostly keep both subblocks, put 4.6-7.3% on models whose layers keep one (moby-2x's uniform baselines and
    /// ShortGPT at 2.5×); computed from six stores of 2026-11-30, fitting them too put moby-2x's models 11 of 12 within
    /// ±10% against 9 (mean error 3.0% against 6.0%) and tied on four main jobs of the default pipeline with two copies
    /// (12, 12, 12 and 10 of 12 either way; on one with a single copy, 7 against 10).</summary>
    internal static CurveFit Fit(ModelConfig parent, IReadOnlyDictionary<string, MeasuredCost> costs, IReadOnlyList<(ModelConfig Model, MeasuredCost Whole)> samples, int generate,
        IReadOnlyList<SampleTiming>? shapeModels = null)
    {
        double Summed(ModelConfig m) => costs["head"].ScenarioSeconds(generate) +
            m.Blocks.Sum(b => costs[$"attention.{b.Attention}"].ScenarioSeconds(generate) + costs[$"ffn.{b.Ffn}"].ScenarioSeconds(generate));
        var parentSummed = Summed(parent);
        var timed = samples.Select(s => new SampleTiming(string.Join(" ", s.Model.Blocks),
            Summed(s.Model), s.Whole.ScenarioSeconds(generate))).Concat(shapeModels ?? []).ToList();
        var curve = SizeCurve.Fit(timed.Select(t => (t.SummedSeconds, t.WholeSeconds)), parentSummed, costs["parent"].ScenarioSeconds(generate));
        return new CurveFit(curve.K, parentSummed, timed);
    }

    /// <summary>The size curve's K, the parent's summed blocks, and the sampled architectures it was fitted to.</summary>
    public sealed record CurveFit(double K, double ParentSummedSeconds, IReadOnlyList<SampleTiming> Samples);

    /// <summary>A sampled architecture (each layer's attention/FFN shape), its blocks' summed scenario time and its
    /// whole scenario time.</summary>
    public sealed record SampleTiming(string Blocks, double SummedSeconds, double WholeSeconds);

    /// <summary>How many blocks of one shape a block's timing model has: the parent's depth, at most 8 (a few layers
    /// already stream their weights from memory; more only lengthen the measurement).</summary>
    public static int Depth(ModelConfig parent) => Math.Min(parent.NumLayers, 8);

    /// <summary>What the costs describe, as the report and the model card name it.</summary>
    public static string CostModel(PipelineSpec spec) => CostModel(spec.Scenario with { Device = JobContext.CostKind(spec) });

    /// <summary>What the costs of a scenario (its device resolved) describe.</summary>
    public static string CostModel(ScenarioSpec scenario) => scenario.Target is { } target
        ? $"roofline of {Hardware.Known[target].Name} (bfloat16, modelled from its data sheet, not measured)"
        : $"block costs measured on {ComputeDevice.Name(scenario.Device ?? DeviceKind.Cpu)} ({RuntimeName(scenario.Runtime)}, each shape inside a model of its own depth, every cost in the same rounds), added up, and scaled to the parent timed whole by a size curve fitted to {SampleSizes.Length} sampled architectures and the block shapes' models, timed whole";

    /// <summary>How a runtime runs the timed steps, as the cost model and the measured speeds name it.</summary>
    public static string RuntimeName(TimingRuntime runtime) => runtime == TimingRuntime.CudaGraphs
        ? "the prefill and each decode step replayed as one CUDA graph, as serving runtimes decode" : "eager TorchSharp";

    /// <summary>The costs a Measure job wrote.</summary>
    public static CostsRecord Read(string jobDirectory) => RecordFile.Read<CostsRecord>(Path.Combine(jobDirectory, CostFile));

    /// <summary>The Measure jobs' costs and size curves, reading batch b's job from <c>directoryOf(JobId(b))</c> once.</summary>
    public static CostLookup Lookup(Func<string, string> directoryOf) => new(directoryOf);

    /// <summary>The Measure jobs' records, each read once.</summary>
    public sealed class CostLookup(Func<string, string> directoryOf)
    {
        readonly Dictionary<string, CostsRecord> read = [];

        CostsRecord Job(string job) => read.TryGetValue(job, out var record) ? record : read[job] = Read(directoryOf(job));

        /// <summary>A cost by its name (<see cref="AttentionJob"/>, <see cref="FfnJob"/>, <c>b{batch}.head</c>, <c>b{batch}.parent</c>).</summary>
        public MeasuredCost Cost(string name)
        {
            var dot = name.IndexOf('.');
            var job = name[..dot];
            return Job(job).Costs.TryGetValue(name[(dot + 1)..], out var cost) ? cost
                : throw new KeyNotFoundException($"Measure job {job} has no cost '{name[(dot + 1)..]}'");
        }

        /// <summary>The size curve batch <paramref name="batch"/>'s job fitted; null where nothing was timed (a roofline).</summary>
        public SizeCurve? Curve(int batch) => Job(JobId(batch)).Curve is { } fit ? new SizeCurve(fit.K) : null;
    }

    /// <summary>costs.json: every cost by name (<c>attention.{shape}</c>, <c>ffn.{shape}</c>, <c>head</c>, <c>parent</c>),
    /// and how they were obtained (the cost model; for timings, torch's threads, the device, the rounds and the size
    /// curve fitted to the sampled architectures).</summary>
    public sealed record CostsRecord(IReadOnlyDictionary<string, MeasuredCost> Costs, string CostModel, int Batch)
    {
        public int? Threads { get; init; }
        public string? Device { get; init; }
        public int? Rounds { get; init; }
        public CurveFit? Curve { get; init; }
        /// <summary>The machine the costs were timed on, named as the Speed job names its own
        /// (<see cref="SpeedStage.Machine"/>); null for a roofline, and in entries written before it was recorded.</summary>
        public string? MeasuredOn { get; init; }
    }
}
