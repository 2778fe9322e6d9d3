using System.Text.Json;
using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Measure: the cost of every distinct subblock shape in the library (cost depends on shape, not layer), of the
/// non-block parts and of the whole parent, in the spec's scenario on its device (scenario.device, else device), per
/// batch size searched. Weights are random: latency does not depend on their values. Runs alone, so that no other job
/// skews the timings. With <c>scenario.target</c> the costs are the roofline of that hardware instead: nothing is timed.
/// </summary>
public sealed class MeasureStage : Stage<MeasureStage.MeasureJob>
{
    /// <summary>One cost to measure: a subblock shape (<see cref="Block"/>, with <see cref="Kind"/> attention or ffn), the
    /// head, or the whole parent, in the scenario at one batch size (<c>Scenario.Batch</c>) on the cost device
    /// (<c>Scenario.Device</c>, resolved).</summary>
    public sealed record MeasureJob(string Kind, BlockConfig? Block, ModelConfig Parent, [property: SpecPath("scenario")] ScenarioSpec Scenario);

    public override string Name => "Measure";
    public override int Version => 6; // 6: timings with malloc keeping freed pages (MallocTuning); 5: typed job config; 4: blocks timed in depth, fastest of repeats; 3: scenario.target gives roofline costs
    public override IReadOnlyList<string> Upstream => [];
    public override DeviceKind? ComputesOn(PipelineSpec spec) => JobContext.CostKind(spec);
    public override string Description => "measure each variant shape's cost in the scenario";
    public override bool Exclusive => true;
    public const string CostFile = "cost.json";

    public static IReadOnlyList<int> Batches(PipelineSpec spec) => spec.Search.BatchSizes.Prepend(spec.Scenario.Batch).Distinct().ToList();

    public static string AttentionJob(int batch, AttentionConfig a) => $"b{batch}.attention.{a}";
    public static string FfnJob(int batch, FfnConfig f) => $"b{batch}.ffn.{f}";

    public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned)
    {
        var parent = ParentStage.PlannedConfig(spec);
        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var jobs = new List<JobPlan>();
        foreach (var batch in Batches(spec))
        {
            // the device costs are measured on, as resolved, and this job's batch size
            var scenario = spec.Scenario with { Batch = batch, Device = JobContext.CostKind(spec) };
            JobPlan Measure(string id, string kind, BlockConfig? block) => Job(id, new MeasureJob(kind, block, parent, scenario));
            foreach (var a in catalog.Where(v => v.Subblock == Subblock.Attention).Select(v => v.Attention!).Distinct())
                jobs.Add(Measure(AttentionJob(batch, a), "attention", new BlockConfig(a, FfnConfig.NoOp)));
            foreach (var f in catalog.Where(v => v.Subblock == Subblock.Ffn).Select(v => v.Ffn!).Distinct())
                jobs.Add(Measure(FfnJob(batch, f), "ffn", new BlockConfig(AttentionConfig.NoOp, f)));
            jobs.Add(Measure($"b{batch}.head", "head", null));
            jobs.Add(Measure($"b{batch}.parent", "parent", null));
        }
        return jobs;
    }

    protected override void Run(MeasureJob job, JobContext context)
    {
        var (parent, kind, shape, scenario, batch) = (job.Parent, job.Kind, job.Block, job.Scenario, job.Scenario.Batch);
        MeasuredCost cost;
        string? device = null;
        if (scenario.Target is { } target)
        {
            // hardware that is not here: the roofline of its data sheet, nothing is timed
            var hw = Hardware.Known[target];
            var s = scenario;
            cost = shape is not null ? Roofline.BlockCost(parent, shape, batch, s.Prompt, s.Generate, hw)
                : kind == "head" ? Roofline.HeadCost(parent, batch, s.Prompt, hw)
                : Roofline.ModelCost(parent, batch, s.Prompt, s.Generate, hw);
        }
        else
        {
            var costs = context.CostDevice;
            if (shape is not null) cost = CostMeter.BlockInDepth(parent, shape, scenario.Timing(), batch, Depth(parent), costs);
            else if (kind == "head") cost = CostMeter.Head(parent, scenario.Timing(), batch, costs);
            else
            {
                using var model = costs.Place(new CausalLM(parent));
                cost = CostMeter.Model(model, scenario.Timing(), batch, costs);
            }
            device = costs.ToString();
        }
        var record = new CostRecord(cost, CostModel(scenario), batch)
        {
            Threads = device is null ? null : TorchSharp.torch.get_num_threads(), Device = device,
        };
        RecordFile.Write(context.Output(CostFile), record);
        foreach (var (k, v) in RecordFile.ToJson(record)) context.Metrics[k] = v?.DeepClone();
        context.Log.WriteLine($"{context.Job.Id}: prefill {cost.PrefillSeconds * 1e3:F2} ms, decode {cost.DecodeSecondsPerToken * 1e3:F3} ms/token");
    }

    /// <summary>How many blocks of one shape a block's timing model has: the parent's depth, at most 8 (a few layers
    /// already stream their weights from memory; more only lengthen the measurement).</summary>
    public static int Depth(ModelConfig parent) => Math.Min(parent.NumLayers, 8);

    /// <summary>What the costs describe, as the report and the model card name it.</summary>
    public static string CostModel(PipelineSpec spec) => CostModel(spec.Scenario with { Device = JobContext.CostKind(spec) });

    /// <summary>What the costs of a scenario (its device resolved) describe.</summary>
    public static string CostModel(ScenarioSpec scenario) => scenario.Target is { } target
        ? $"roofline of {Hardware.Known[target].Name} (bfloat16, modelled from its data sheet, not measured)"
        : $"block costs measured on {ComputeDevice.Name(scenario.Device ?? DeviceKind.Cpu)} (eager TorchSharp, each shape inside a model of its own depth), added up, against the parent timed whole";

    /// <summary>The cost a Measure job wrote, as the search adds it up.</summary>
    public static MeasuredCost Read(string jobDirectory) => RecordFile.Read<CostRecord>(Path.Combine(jobDirectory, CostFile)).Cost;

    /// <summary>cost.json: the cost, and how it was obtained (the cost model; for a timing, torch's threads and the
    /// device). Written as one object whose cost fields sit beside the others, as the file has always read.</summary>
    public sealed record CostRecord
    {
        public CostRecord() { }

        public CostRecord(MeasuredCost cost, string costModel, int batch) =>
            (Cost, CostModel, Batch) = (cost, costModel, batch);

        [System.Text.Json.Serialization.JsonIgnore]
        public MeasuredCost Cost { get; init; } = new(0, 0, 0, 0, 0);

        public double PrefillSeconds { get => Cost.PrefillSeconds; init => Cost = Cost with { PrefillSeconds = value }; }
        public double DecodeSecondsPerToken { get => Cost.DecodeSecondsPerToken; init => Cost = Cost with { DecodeSecondsPerToken = value }; }
        public long Parameters { get => Cost.Parameters; init => Cost = Cost with { Parameters = value }; }
        public long ParameterBytes { get => Cost.ParameterBytes; init => Cost = Cost with { ParameterBytes = value }; }
        public long KvBytesPerToken { get => Cost.KvBytesPerToken; init => Cost = Cost with { KvBytesPerToken = value }; }
        public string CostModel { get; init; } = "";
        public int Batch { get; init; }
        public int? Threads { get; init; }
        public string? Device { get; init; }
    }
}
