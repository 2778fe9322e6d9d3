using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Benchmarks;

/// <summary>
/// How well summed block costs predict a whole model's time, for the pipeline's parent and random architectures from
/// its search space (issue 14). Each block shape is timed alone (one block, weights hot in cache) and inside a model
/// of the parent's depth made of that shape only (its time less the head's, over the depth: what Measure does); every
/// prediction adds the head's time. The whole models are timed in rounds, one after the other, each keeping its
/// fastest, so that drift in the machine's load touches all alike; the parent is timed first and again last in every
/// round (a timing that depends on what ran before shows as a gap between the two). A predicted speedup is reported
/// against the parent's summed blocks (the old reference) and against the parent timed whole (what the search uses).
/// Args: [PIPELINE] [architectures] [rounds]; default pipelines/default.yaml, 6 and 4.
/// </summary>
public static class CostBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var spec = SpecLoader.Load(args.Length > 0 ? args[0] : "pipelines/default.yaml");
        var samples = args.Length > 1 ? int.Parse(args[1]) : 6;
        var rounds = args.Length > 2 ? int.Parse(args[2]) : 4;
        var report = new BenchmarkReport("costs");
        var parent = ParentStage.PlannedConfig(spec);
        var scenario = spec.Scenario;
        var timing = scenario.Timing();
        var batch = scenario.Batch;
        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var (attention, ffn) = VariantCatalog.Shapes(catalog);
        double Seconds(MeasuredCost c) => c.ScenarioSeconds(scenario.Generate);

        var head = Seconds(CostMeter.Head(parent, timing, batch));
        var alone = new Dictionary<BlockConfig, double>();
        var inDepth = new Dictionary<BlockConfig, double>();
        foreach (var shape in attention.Select(a => new BlockConfig(a, FfnConfig.NoOp)).Concat(ffn.Select(f => new BlockConfig(AttentionConfig.NoOp, f))))
        {
            alone[shape] = Seconds(CostMeter.Block(parent, shape, timing, batch));
            inDepth[shape] = Seconds(CostMeter.BlockInDepth(parent, shape, timing, batch, MeasureStage.Depth(parent)));
        }
        double Predict(Dictionary<BlockConfig, double> cost, ModelConfig config) => head + config.Blocks.Sum(b =>
            cost[new BlockConfig(b.Attention, FfnConfig.NoOp)] + cost[new BlockConfig(AttentionConfig.NoOp, b.Ffn)]);

        var random = new Random(0);
        var models = new List<(string Name, ModelConfig Config)> { ("parent", parent) };
        for (var i = 0; i < samples; i++)
            models.Add(($"random {i + 1}", parent with
            {
                Blocks = Enumerable.Range(0, parent.NumLayers).Select(_ => new BlockConfig(attention[random.Next(attention.Count)], ffn[random.Next(ffn.Count)])).ToList(),
            }));
        models.Add(("parent, timed last", parent));
        var built = models.Select(m => new CausalLM(m.Config)).ToList();
        var measured = models.Select(_ => double.PositiveInfinity).ToArray();
        for (var r = 0; r < rounds; r++)
            for (var i = 0; i < built.Count; i++)
                measured[i] = Math.Min(measured[i], Seconds(CostMeter.Model(built[i], timing, batch)));
        foreach (var m in built) m.Dispose();

        var parentWhole = measured[0];
        var parentSummed = Predict(inDepth, parent);
        var errors = (Alone: new List<double>(), InDepth: new List<double>(), VsSummed: new List<double>(), VsWhole: new List<double>());
        for (var i = 0; i < models.Count; i++)
        {
            var (name, config) = models[i];
            var a = Predict(alone, config) / measured[i] - 1;
            var d = Predict(inDepth, config) / measured[i] - 1;
            errors.Alone.Add(a);
            errors.InDepth.Add(d);
            var note = $"blocks alone {a:+0.0%;-0.0%;0.0%}, blocks in depth {d:+0.0%;-0.0%;0.0%}; {string.Join(" ", config.Blocks.Select(b => b.ToString()))}";
            if (i > 0 && i < models.Count - 1)
            {
                // predicted / measured speedup - 1, with the parent's summed blocks or its whole time as the reference
                var vsSummed = parentSummed / Predict(inDepth, config) / (parentWhole / measured[i]) - 1;
                var vsWhole = parentWhole / Predict(inDepth, config) / (parentWhole / measured[i]) - 1;
                errors.VsSummed.Add(vsSummed);
                errors.VsWhole.Add(vsWhole);
                note += $"; predicted speedup vs the parent's summed blocks {vsSummed:+0.0%;-0.0%;0.0%}, vs the parent timed whole {vsWhole:+0.0%;-0.0%;0.0%}";
            }
            report.Add($"{name}: measured scenario time", measured[i], "s", note);
        }
        var setting = $"{models.Count - 1} models, batch {batch}, prompt {scenario.Prompt}, generate {scenario.Generate}, fastest of {rounds} rounds";
        report.Add("largest error, blocks timed alone", errors.Alone.Max(Math.Abs), "fraction", setting);
        report.Add("largest error, blocks timed in depth", errors.InDepth.Max(Math.Abs), "fraction", $"depth {MeasureStage.Depth(parent)}: a model of one shape, less the head, over the depth (what Measure does)");
        report.Add("largest speedup error, against the parent's summed blocks", errors.VsSummed.Max(Math.Abs), "fraction", "the random architectures, blocks in depth");
        report.Add("largest speedup error, against the parent timed whole", errors.VsWhole.Max(Math.Abs), "fraction", "the random architectures, blocks in depth (what the search uses)");
        report.Add("the parent timed last vs first in each round", measured[^1] / measured[0] - 1, "fraction", "fastest of each");
        return report;
    }
}
