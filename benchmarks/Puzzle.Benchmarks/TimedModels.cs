using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;

namespace Puzzle.Benchmarks;

/// <summary>The models the timing benchmarks time, by name: what a Measure job of the pipeline times (the head model
/// "head", one model per block shape as deep as the parent "attention.{shape}" and "ffn.{shape}", the parent "parent",
/// and optionally its sampled architectures "sample{i}"), then seeded random architectures of its search space
/// "random {i}".</summary>
public static class TimedModels
{
    public static (List<string> Names, List<ModelConfig> Configs) Of(PipelineSpec spec, int architectures, bool samples, int seed = 0)
    {
        var parent = ParentStage.PlannedConfig(spec);
        var (attention, ffn) = VariantCatalog.Shapes(VariantCatalog.For(parent, spec.SearchSpace.Alternatives));
        var depth = MeasureStage.Depth(parent);
        var models = new List<(string, ModelConfig)> { ("head", CostMeter.HeadModel(parent)), ("parent", parent) };
        models.AddRange(attention.Select(a => ($"attention.{a}", CostMeter.ShapeModel(parent, new BlockConfig(a, FfnConfig.NoOp), depth))));
        models.AddRange(ffn.Select(f => ($"ffn.{f}", CostMeter.ShapeModel(parent, new BlockConfig(AttentionConfig.NoOp, f), depth))));
        if (samples) models.AddRange(MeasureStage.Samples(parent, attention, ffn).Select((m, i) => ($"sample{i + 1}", m)));
        var random = new Random(seed);
        for (var i = 0; i < architectures; i++)
            models.Add(($"random {i + 1}", parent with
            {
                Blocks = [.. Enumerable.Range(0, parent.NumLayers).Select(_ => new BlockConfig(attention[random.Next(attention.Count)], ffn[random.Next(ffn.Count)]))],
            }));
        return ([.. models.Select(m => m.Item1)], [.. models.Select(m => m.Item2)]);
    }
}
