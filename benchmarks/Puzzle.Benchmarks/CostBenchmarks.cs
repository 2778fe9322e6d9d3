using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Benchmarks;

/// <summary>
/// How well summed block costs predict a whole model's time, for the pipeline's parent and random architectures from
/// its search space (issue 14): each block shape timed alone (one block, weights hot in cache), and timed inside a
/// model of the parent's depth made of that shape only (its time less the head's, over the depth). Every prediction
/// adds the head's time. Args: [PIPELINE] [architectures]; default pipelines/default.yaml and 6.
/// </summary>
public static class CostBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var spec = SpecLoader.Load(args.Length > 0 ? args[0] : "pipelines/default.yaml");
        var samples = args.Length > 1 ? int.Parse(args[1]) : 6;
        var report = new BenchmarkReport("costs");
        var parent = ParentStage.PlannedConfig(spec);
        var scenario = spec.Scenario;
        var batch = scenario.Batch;
        var depth = parent.NumLayers;
        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var attention = catalog.Where(v => v.Subblock == Subblock.Attention).Select(v => v.Attention!).Distinct().ToList();
        var ffn = catalog.Where(v => v.Subblock == Subblock.Ffn).Select(v => v.Ffn!).Distinct().ToList();
        double Seconds(MeasuredCost c) => c.ScenarioSeconds(scenario.Generate);
        double Whole(ModelConfig config)
        {
            using var model = new CausalLM(config);
            return Seconds(CostMeter.Model(model, scenario.Timing(), batch));
        }

        var head = Seconds(CostMeter.Head(parent, scenario.Timing(), batch));
        var alone = new Dictionary<BlockConfig, double>();
        var inDepth = new Dictionary<BlockConfig, double>();
        foreach (var shape in attention.Select(a => new BlockConfig(a, FfnConfig.NoOp)).Concat(ffn.Select(f => new BlockConfig(AttentionConfig.NoOp, f))))
        {
            alone[shape] = Seconds(CostMeter.Block(parent, shape, scenario.Timing(), batch));
            inDepth[shape] = Seconds(CostMeter.BlockInDepth(parent, shape, scenario.Timing(), batch, MeasureStage.Depth(parent)));
        }
        double Predict(Dictionary<BlockConfig, double> cost, ModelConfig config) => head + config.Blocks.Sum(b =>
            cost[new BlockConfig(b.Attention, FfnConfig.NoOp)] + cost[new BlockConfig(AttentionConfig.NoOp, b.Ffn)]);

        var random = new Random(0);
        var models = new List<(string Name, ModelConfig Config)> { ("parent", parent) };
        for (var i = 0; i < samples; i++)
            models.Add(($"random {i + 1}", parent with
            {
                Blocks = Enumerable.Range(0, depth).Select(_ => new BlockConfig(attention[random.Next(attention.Count)], ffn[random.Next(ffn.Count)])).ToList(),
            }));
        var errors = (Alone: new List<double>(), InDepth: new List<double>());
        foreach (var (name, config) in models)
        {
            var measured = Whole(config);
            var a = Predict(alone, config) / measured - 1;
            var d = Predict(inDepth, config) / measured - 1;
            errors.Alone.Add(a);
            errors.InDepth.Add(d);
            report.Add($"{name}: measured scenario time", measured, "s",
                $"blocks alone {a:+0.0%;-0.0%}, blocks in depth {d:+0.0%;-0.0%}; {string.Join(" ", config.Blocks.Select(b => b.ToString()))}");
        }
        report.Add("largest error, blocks timed alone", errors.Alone.Max(Math.Abs), "fraction", $"{models.Count} models, batch {batch}, prompt {scenario.Prompt}, generate {scenario.Generate}");
        report.Add("largest error, blocks timed in depth", errors.InDepth.Max(Math.Abs), "fraction", $"depth {MeasureStage.Depth(parent)}: a model of one shape, less the head, over the depth (what Measure does)");
        return report;
    }
}
