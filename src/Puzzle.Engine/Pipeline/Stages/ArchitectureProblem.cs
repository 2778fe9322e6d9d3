using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption;

namespace Puzzle.Engine.Pipeline.Stages;

/// <summary>
/// Turns the library's replace-1-block scores and measured costs into the search's grouped knapsack: per layer one
/// attention and one FFN option, each with its score and what it adds to the scenario's time, memory and parameters;
/// the spec's constraints become upper bounds on those sums.
/// </summary>
public static class ArchitectureProblem
{
    public const string Time = "time_s", Memory = "memory_bytes", Params = "params";

    /// <param name="scores">per layer, the Score job's scores.json</param>
    /// <param name="cost">a Measure job's cost by job id</param>
    public static (SearchProblem Problem, Totals Parent) Build(PipelineSpec spec, ModelConfig parent, int batch,
        IReadOnlyList<JsonObject> scores, Func<string, MeasuredCost> cost)
    {
        var s = spec.Scenario;
        var context = s.Prompt + s.Generate;
        IReadOnlyList<BlockVariant> catalog = VariantCatalog.For(parent, spec.SearchSpace);
        SearchOption Option(BlockVariant v, MeasuredCost c)
        {
            var score = v.IsParent ? 0 : Score(scores[v.Layer], v.Id, spec.Scoring.Metric);
            return new SearchOption(v.Id, score, new Dictionary<string, double>
            {
                [Time] = c.ScenarioSeconds(s.Generate),
                [Memory] = c.ParameterBytes + (double)batch * context * c.KvBytesPerToken,
                [Params] = c.Parameters,
            }, c.Parameters);
        }
        MeasuredCost BlockCost(BlockVariant v)
        {
            var a = cost(MeasureStage.AttentionJob(batch, v.Attention!));
            var f = cost(MeasureStage.FfnJob(batch, v.Ffn!));
            return new MeasuredCost(a.PrefillSeconds + f.PrefillSeconds, a.DecodeSecondsPerToken + f.DecodeSecondsPerToken,
                a.Parameters + f.Parameters, a.ParameterBytes + f.ParameterBytes, a.KvBytesPerToken + f.KvBytesPerToken);
        }
        var whole = ScoreCandidate.Blocks(spec) == ScoreBlocks.Combined;
        var layers = whole
            // whole blocks were scored (coupled BLD, or scoring.blocks combined): one choice per layer, scored as the
            // pairing it is and costed as its two subblocks
            ? Enumerable.Range(0, parent.NumLayers).Select(l => SearchLayer.OfBlocks(l,
                VariantCatalog.Coupled(parent, spec.SearchSpace).Where(v => v.Layer == l).Select(v => Option(v, BlockCost(v))).ToList())).ToList()
            : Enumerable.Range(0, parent.NumLayers).Select(l => new SearchLayer(l,
                catalog.Where(v => v.Layer == l && v.Subblock == Subblock.Attention).Select(v => Option(v, cost(MeasureStage.AttentionJob(batch, v.Attention!)))).ToList(),
                catalog.Where(v => v.Layer == l && v.Subblock == Subblock.Ffn).Select(v => Option(v, cost(MeasureStage.FfnJob(batch, v.Ffn!)))).ToList())).ToList();
        catalog = whole ? VariantCatalog.Coupled(parent, spec.SearchSpace) : catalog;
        var head = cost($"b{batch}.head");
        var fixedCosts = new Dictionary<string, double>
        {
            [Time] = head.ScenarioSeconds(s.Generate), [Memory] = head.ParameterBytes, [Params] = head.Parameters,
        };
        var unconstrained = new SearchProblem(layers, fixedCosts, []) { FixedParameters = head.Parameters };
        var own = new Totals(
            fixedCosts[Time] + layers.Sum(l => l.Attention.Concat(l.Ffn).Where(o => IsParent(catalog, o.Id)).Sum(o => o.Cost(Time))),
            fixedCosts[Memory] + layers.Sum(l => l.Attention.Concat(l.Ffn).Where(o => IsParent(catalog, o.Id)).Sum(o => o.Cost(Memory))),
            fixedCosts[Params] + layers.Sum(l => l.Attention.Concat(l.Ffn).Where(o => IsParent(catalog, o.Id)).Sum(o => o.Cost(Params))));
        return (unconstrained with { Limits = Limits(spec, batch, own) }, own);
    }

    /// <summary>The parent's predicted totals under the additive model: its own blocks plus the fixed parts.</summary>
    public sealed record Totals(double TimeSeconds, double MemoryBytes, double Parameters);

    /// <summary>The spec's constraints as upper bounds on summed resources.</summary>
    public static IReadOnlyList<ResourceLimit> Limits(PipelineSpec spec, int batch, Totals parent, double? throughputVsParent = null)
    {
        var c = spec.Constraints;
        var limits = new List<ResourceLimit>();
        if ((throughputVsParent ?? c.ThroughputVsParent) is { } t)
            limits.Add(new ResourceLimit(Time, parent.TimeSeconds / t, $"throughput ≥ {t:0.##}× parent")
                { Describe = v => $"{parent.TimeSeconds / v:0.00}× parent throughput" });
        if (c.ThroughputTokensPerS is { } tps)
            limits.Add(new ResourceLimit(Time, (double)batch * spec.Scenario.Generate / tps, $"throughput ≥ {tps:0.#} tokens/s")
                { Describe = v => $"{batch * spec.Scenario.Generate / v:0.#} tokens/s" });
        if (c.LatencyMs is { } ms)
            limits.Add(new ResourceLimit(Time, ms / 1000, $"latency ≤ {ms:0.###} ms") { Describe = v => $"{v * 1000:0.###} ms" });
        if (c.MemoryVsParent is { } m)
            limits.Add(new ResourceLimit(Memory, parent.MemoryBytes * m, $"memory ≤ {m:0.##}× parent") { Describe = v => $"{v / parent.MemoryBytes:0.00}× parent memory" });
        if (c.MemoryBytes is { } bytes)
            limits.Add(new ResourceLimit(Memory, bytes, $"memory ≤ {bytes:N0} bytes") { Describe = v => $"{v:N0} bytes" });
        if (c.ParamsVsParent is { } p)
            limits.Add(new ResourceLimit(Params, parent.Parameters * p, $"parameters ≤ {p:0.##}× parent") { Describe = v => $"{v / parent.Parameters:0.00}× parent parameters" });
        return limits;
    }

    /// <summary>Lower is better: KL(parent ‖ model), the LM loss the replacement adds, or (top1) how often the model's
    /// top-1 token disagrees with the parent's, as the spec describes it: agreement with the parent, not accuracy on the
    /// text, which a near-chance parent makes mostly noise.</summary>
    internal static double Score(JsonObject layerScores, string id, ScoringMetric metric)
    {
        var v = layerScores["variants"]![id] ?? throw new InvalidDataException($"no score for {id}");
        var parent = layerScores["parent"]!;
        return metric switch
        {
            ScoringMetric.LmLoss => (double)v["lm_loss"]! - (double)parent["lm_loss"]!,
            ScoringMetric.Top1 => 1 - (double)v["agreement"]!,
            _ => (double)v["kl"]!,
        };
    }

    /// <summary>The choices as the library's variant ids, which Heal takes BLD weights by: a whole block chosen from
    /// combined scores of a decoupled library becomes its attention and FFN variants.</summary>
    public static IReadOnlyList<LayerChoice> AsLibraryChoices(ModelConfig parent, PipelineSpec spec, IReadOnlyList<LayerChoice> layers)
    {
        if (spec.Bld.Mode == BldMode.Coupled || layers.All(l => l.Ffn.Length > 0)) return layers;
        var pairs = VariantCatalog.Pairs(parent, spec.SearchSpace).ToDictionary(p => p.Block.Id);
        return layers.Select(l =>
        {
            if (l.Ffn.Length > 0) return l;
            var pair = pairs[l.Attention];
            return new LayerChoice(l.Layer, pair.Attention.Id, pair.Ffn.Id);
        }).ToList();
    }

    static bool IsParent(IReadOnlyList<BlockVariant> catalog, string id) => catalog.Any(v => v.Id == id && v.IsParent);

    /// <summary>The chosen architecture as a model configuration (the parent's shape with each layer's choice).</summary>
    public static ModelConfig ToModel(ModelConfig parent, PipelineSpec spec, IReadOnlyList<LayerChoice> layers)
    {
        var byId = VariantCatalog.For(parent, spec.SearchSpace).Concat(VariantCatalog.Coupled(parent, spec.SearchSpace)).ToDictionary(v => v.Id);
        return parent with
        {
            Blocks = layers.Select(l => l.Ffn.Length == 0
                ? byId[l.Attention].AsBlock
                : new BlockConfig(byId[l.Attention].Attention!, byId[l.Ffn].Ffn!)).ToArray(),
        };
    }
}
