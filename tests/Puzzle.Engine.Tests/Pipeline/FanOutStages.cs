using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>
/// Stages shaped like the method's (per-variant jobs, then a search over all of them, then a report) that read real
/// spec fields, for testing the graph, keys, store and executor without training. Each writes a small real payload.
/// </summary>
public static class FanOutStages
{
    public static IReadOnlyList<Stage> All(string? failJob = null) => [new Variants(failJob), new Select(), new Report()];

    /// <summary>One job per FFN ratio per layer; its lr comes from bld.lr or a matching bld.variants override.</summary>
    /// <summary>A job that reads nothing of the spec.</summary>
    public sealed record NoSettings;

    /// <summary>The constraints, as the search reads them.</summary>
    public sealed record SelectJob([property: SpecPath("constraints")] ConstraintsSpec Constraints);

    /// <summary>One FFN variant's settings.</summary>
    public sealed record VariantJob(int Layer, double Ratio, double Lr, long Tokens);

    public sealed class Variants(string? failJob) : Stage<VariantJob>
    {
        public override string Name => "Variants";
        public override int Version => 1;
        public override IReadOnlyList<string> Upstream => [];
        public override DeviceKind? ComputesOn(PipelineSpec spec) => spec.Device;

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            (from layer in Enumerable.Range(0, spec.Parent.Pretrain!.Layers)
             from ratio in spec.SearchSpace.FfnFor(layer).Ratios
             let id = $"layer{layer}.ffn.ratio{ratio}"
             let lr = spec.Bld.Variants.LastOrDefault(v => Matches(v.Match, id))?.Lr ?? spec.Bld.Training.Lr
             select Job(id, new VariantJob(layer, ratio, lr, spec.Bld.Training.Tokens), null, spec.Bld.Training.Seed)).ToList();

        static bool Matches(string pattern, string id) =>
            pattern.Split('.').Zip(id.Split('.')).All(p => p.First == "*" || p.First == p.Second);

        protected override void Run(VariantJob job, JobContext context)
        {
            if (context.Job.Id == failJob) throw new InvalidOperationException($"{context.Job.Id} fails on purpose");
            var score = job.Ratio * job.Lr;
            File.WriteAllText(context.Output("score.txt"), score.ToString("R"));
            context.Metrics["score"] = score;
        }
    }

    /// <summary>Reads every variant and the constraints, like the search.</summary>
    public sealed class Select : Stage
    {
        public override string Name => "Select";
        public override int Version => 1;
        public override IReadOnlyList<string> Upstream => ["Variants"];

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            [new JobPlan(this, "search", new SelectJob(spec.Constraints), planned["Variants"].ToDictionary(j => j.Id, j => j))];

        public override void Run(JobContext context)
        {
            var total = context.Job.Inputs.Keys.Sum(k => double.Parse(File.ReadAllText(Path.Combine(context.Input(k), "score.txt"))));
            File.WriteAllText(context.Output("choice.txt"), total.ToString("R"));
        }
    }

    public sealed class Report : Stage
    {
        public override string Name => "Report";
        public override int Version => 1;
        public override IReadOnlyList<string> Upstream => ["Select"];

        public override IReadOnlyList<JobPlan> Plan(PipelineSpec spec, IReadOnlyDictionary<string, IReadOnlyList<JobPlan>> planned) =>
            [new JobPlan(this, "report", new NoSettings(), new Dictionary<string, JobPlan> { ["search"] = planned["Select"].Single() })];

        public override void Run(JobContext context) =>
            File.Copy(Path.Combine(context.Input("search"), "choice.txt"), context.Output("report.txt"));
    }
}
