using System.Globalization;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Engine.Pipeline.Execution;

/// <summary>
/// The least parameters and memory any child of the search space can have, from the parent's shape alone: the
/// embeddings, final norm and LM head, which every child keeps, plus each layer's smallest attention and FFN variant
/// (memory: weights and the KV cache at batch × (prompt + generate), as the Search job counts them). A parameter or
/// memory limit below these cannot be met whatever the library learns, so it is refused before the run trains it.
/// </summary>
internal static class SmallestChild
{
    /// <summary>One error per parameter or memory constraint no child can meet, each naming the least it can reach.</summary>
    public static IReadOnlyList<SpecError> Unreachable(PipelineSpec spec)
    {
        var c = spec.Constraints;
        if (c.ParamsVsParent is null && c.MemoryVsParent is null && c.MemoryBytes is null) return [];
        var parent = ParentStage.PlannedConfig(spec);
        var catalog = VariantCatalog.For(parent, spec.SearchSpace.Alternatives);
        var kept = CostMeter.EmbeddingParameters(parent) + parent.HiddenSize;
        var errors = new List<SpecError>();
        if (c.ParamsVsParent is { } p)
        {
            double least = kept + Least(parent, catalog, _ => 0), whole = CostMeter.Parameters(parent);
            if (least > p * whole * (1 + 1e-9))
                errors.Add(Error(spec, "params_vs_parent", p, least / whole, $"{N(least)} of the parent's {N(whole)} parameters"));
        }
        // weights and cache in the bytes per value the costs are counted in (a roofline's bfloat16, else the cost device's)
        var bytes = spec.Scenario.Target is not null ? 2 : ComputeDevice.ElementBytesOn(Pipeline.Graph.JobContext.CostKind(spec), spec.Dtype);
        var context = (long)spec.Scenario.Prompt + spec.Scenario.Generate;
        foreach (var batch in MeasureStage.Batches(spec))
        {
            long Cache(AttentionConfig a) => a.Kind == AttentionKind.Gqa ? batch * context * 2L * a.KvHeads * parent.HeadDim : 0;
            var least = bytes * (kept + Least(parent, catalog, Cache));
            var whole = bytes * (CostMeter.Parameters(parent) + parent.Blocks.Sum(b => (double)Cache(b.Attention)));
            var at = MeasureStage.Batches(spec).Count > 1 ? $" at batch {batch}" : "";
            if (c.MemoryVsParent is { } m && least > m * whole * (1 + 1e-9))
                errors.Add(Error(spec, "memory_vs_parent", m, least / whole, $"{N(least)} of the parent's {N(whole)} bytes{at}"));
            if (c.MemoryBytes is { } limit && least > limit * (1 + 1e-9))
                errors.Add(SpecLoader.ErrorAt(spec, "constraints.memory_bytes",
                    $"constraints.memory_bytes is {N(limit)}, but the smallest child the search space allows needs {N(least)} bytes{at} (weights and KV cache " +
                    $"in {(bytes == 2 ? "bfloat16" : "float32")}; the embeddings and LM head, kept in every child, alone take {N(bytes * kept)}): " +
                    "raise it, or let search_space remove more (no_op attention and FFN); nothing was started."));
        }
        return errors.DistinctBy(e => e.Message).ToList();
    }

    /// <summary>Σ over layers of the smallest attention variant (its parameters plus <paramref name="cache"/>) and the
    /// smallest FFN variant.</summary>
    static double Least(ModelConfig parent, IReadOnlyList<BlockVariant> catalog, Func<AttentionConfig, long> cache) =>
        catalog.GroupBy(v => v.Layer).Sum(layer =>
            layer.Where(v => v.Subblock == Subblock.Attention)
                .Min(v => (double)Roofline.BlockParameters(parent, new BlockConfig(v.Attention!, FfnConfig.NoOp)) + cache(v.Attention!)) +
            layer.Where(v => v.Subblock == Subblock.Ffn).Min(v => (double)Roofline.BlockParameters(parent, new BlockConfig(AttentionConfig.NoOp, v.Ffn!))));

    static SpecError Error(PipelineSpec spec, string field, double limit, double least, string what) =>
        SpecLoader.ErrorAt(spec, $"constraints.{field}",
            $"constraints.{field} is {limit.ToString(CultureInfo.InvariantCulture)}, but the smallest child the search space allows reaches " +
            $"{least.ToString("0.000", CultureInfo.InvariantCulture)}× the parent ({what}; the embeddings and LM head are kept in every child): " +
            $"ask for at least {(Math.Ceiling(least * 1000) / 1000).ToString("0.000", CultureInfo.InvariantCulture)}, or let search_space remove more " +
            "(no_op attention and FFN); nothing was started.");

    static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
