using System.Text.Json.Nodes;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Search;
using SearchOption = Puzzle.Engine.Search.SearchOption;

namespace Puzzle.Engine.Pipeline.Stages;

// The Search job's problem: how the Score jobs' scores, the Measure jobs' costs and the spec's constraints become
// the grouped knapsack the search solves. It is the Search stage's own glue (it reads its inputs' records and job ids),
// so it is part of the stage; the knapsack itself, its solvers and limits are in Search/.
public sealed partial class SearchStage
{
    /// <summary>
    /// Turns the library's replace-1-block scores and measured costs into the search's grouped knapsack: per layer one
    /// attention and one FFN option, each with its score and what it adds to the scenario's time, memory and parameters
    /// at every batch size searched (scenario.batch and search.batch_sizes); the spec's constraints become upper bounds
    /// on those sums at each of those batch sizes, so one solve meets them all.
    /// </summary>
    public static class ArchitectureProblem
    {
        public const string Time = "time_s", Memory = "memory_bytes", Params = "params";

        /// <summary>What the problem is built from besides scores and costs: the scenario the costs describe, the batch
        /// sizes the constraints hold at (scenario.batch first, then search.batch_sizes), the library (search space and BLD
        /// mode), the metric scores are read by, the constraints, and what was scored (<see cref="ScoreBlocks.Combined"/>:
        /// whole blocks, from coupled BLD or scoring.blocks).</summary>
        [Graph.JobRecord]
        public sealed record Settings([property: Graph.SpecPath("scenario")] ScenarioSpec Scenario, IReadOnlyList<int> Batches,
            [property: Graph.SpecPath("search_space")] SearchSpaceSpec SearchSpace, [property: Graph.SpecPath("bld.mode")] BldMode Mode,
            [property: Graph.SpecPath("scoring.metric")] ScoringMetric Metric, [property: Graph.SpecPath("constraints")] ConstraintsSpec Constraints,
            ScoreBlocks Blocks)
        {
            // scenario.device as the device it defaults to is the same scenario: no other key (Search's Device, the cost
            // device resolved; Sweep's, the device; their Measure inputs, the cost device) tells the two spellings apart,
            // nor should this one. Roofline costs time nothing: how timing would run is not keyed (ScenarioSpec.AsCosted).
            public static Settings Of(PipelineSpec spec)
            {
                var scenario = spec.Scenario.AsCosted();
                return new(scenario.Device == spec.Device ? scenario with { Device = null } : scenario, MeasureStage.Batches(spec), spec.SearchSpace,
                    spec.Bld.Mode, spec.Scoring.Metric, spec.Constraints, ScoreCandidate.Blocks(spec.Bld.Mode, spec.Scoring.Blocks));
            }
        }

        /// <summary>The resource <paramref name="resource"/> (time or memory) at <paramref name="batch"/>: the plain name
        /// at scenario.batch (what the reports, Heal and the closed loop read), <c>b{batch}.{resource}</c> at the other
        /// batch sizes of search.batch_sizes.</summary>
        public static string At(Settings spec, string resource, int batch) =>
            batch == spec.Scenario.Batch ? resource : $"b{batch}.{resource}";

        /// <param name="scores">per layer, the Score job's scores.json</param>
        /// <param name="measured">a Measure job's cost by job id, for every batch of <see cref="MeasureStage.Batches"/></param>
        /// <param name="curveAt">the size curve the Measure job of a batch size fitted (none: the additive one)</param>
        /// <returns>the problem, the parent's totals at scenario.batch, and the parent's totals at every batch size</returns>
        public static (SearchProblem Problem, Totals Parent, IReadOnlyDictionary<int, Totals> ParentAt) Build(Settings spec,
            ModelConfig parent, IReadOnlyList<ScoreStage.LayerScores> scores, Func<string, MeasuredCost> measured, Func<int, SizeCurve?>? curveAt = null)
        {
            var read = new Dictionary<string, MeasuredCost>(); // each shape's cost is used by every layer and batch size
            MeasuredCost Cost(string id) => read.TryGetValue(id, out var c) ? c : read[id] = measured(id);
            var s = spec.Scenario;
            var context = s.Prompt + s.Generate;
            var batches = spec.Batches;
            Dictionary<string, double> Costs(Func<int, MeasuredCost> at)
            {
                var costs = new Dictionary<string, double> { [Params] = at(s.Batch).Parameters };
                foreach (var b in batches)
                {
                    var c = at(b);
                    costs[At(spec, Time, b)] = c.ScenarioSeconds(s.Generate);
                    costs[At(spec, Memory, b)] = c.ParameterBytes + (double)b * context * c.KvBytesPerToken;
                }
                return costs;
            }
            SearchOption Option(BlockVariant v, Func<int, MeasuredCost> at)
            {
                var score = v.IsParent ? 0 : Score(scores[v.Layer], v.Id, spec.Metric);
                return new SearchOption(v.Id, score, Costs(at), at(s.Batch).Parameters);
            }
            MeasuredCost BlockCost(BlockVariant v, int batch)
            {
                var a = Cost(MeasureStage.AttentionJob(batch, v.Attention!));
                var f = Cost(MeasureStage.FfnJob(batch, v.Ffn!));
                return new MeasuredCost(a.PrefillSeconds + f.PrefillSeconds, a.DecodeSecondsPerToken + f.DecodeSecondsPerToken,
                    a.Parameters + f.Parameters, a.ParameterBytes + f.ParameterBytes, a.KvBytesPerToken + f.KvBytesPerToken);
            }
            var whole = spec.Blocks == ScoreBlocks.Combined;
            var alternatives = spec.SearchSpace.Alternatives;
            IReadOnlyList<BlockVariant> catalog = whole ? VariantCatalog.Coupled(parent, alternatives) : VariantCatalog.For(parent, alternatives);
            var layers = whole
                // whole blocks were scored (coupled BLD, or scoring.blocks combined): one choice per layer, scored as the
                // pairing it is and costed as its two subblocks
                ? Enumerable.Range(0, parent.NumLayers).Select(l => SearchLayer.OfBlocks(l,
                    catalog.Where(v => v.Layer == l).Select(v => Option(v, b => BlockCost(v, b))).ToList())).ToList()
                : Enumerable.Range(0, parent.NumLayers).Select(l => new SearchLayer(l,
                    catalog.Where(v => v.Layer == l && v.Subblock == Subblock.Attention).Select(v => Option(v, b => Cost(MeasureStage.AttentionJob(b, v.Attention!)))).ToList(),
                    catalog.Where(v => v.Layer == l && v.Subblock == Subblock.Ffn).Select(v => Option(v, b => Cost(MeasureStage.FfnJob(b, v.Ffn!)))).ToList())).ToList();
            var head = Cost($"b{s.Batch}.head");
            var fixedCosts = Costs(b => Cost($"b{b}.head"));
            foreach (var b in batches) fixedCosts[At(spec, Memory, b)] = Cost($"b{b}.head").ParameterBytes; // no KV cache: its weights
            var unconstrained = new SearchProblem(layers, fixedCosts, []) { FixedParameters = head.Parameters };
            var parentIds = catalog.Where(v => v.IsParent).Select(v => v.Id).ToHashSet();
            var own = layers.SelectMany(l => l.Attention.Concat(l.Ffn)).Where(o => parentIds.Contains(o.Id)).ToList();
            double Parent(string resource) => fixedCosts[resource] + own.Sum(o => o.Cost(resource));
            // an architecture's predicted time is the parent's whole time scaled by the size curve at the ratio of their
            // summed blocks: a model is slower than its blocks timed in models of one shape each, by about as much for a
            // child as for the parent (the ratio of sums predicted 11 and 12 of 12 models within ±11% on the default
            // pipeline, where the parent timed whole over its children's sums put 5 and 4 of 12 there), and a smaller
            // model by a little less, which the curve the Measure job fits takes up
            var parentAt = batches.ToDictionary(b => b, b => new Totals(Parent(At(spec, Time, b)), Parent(At(spec, Memory, b)), Parent(Params))
            { MeasuredTimeSeconds = Cost($"b{b}.parent").ScenarioSeconds(s.Generate), Curve = curveAt?.Invoke(b) ?? SizeCurve.Additive });
            return (unconstrained with { Limits = Limits(spec, parentAt) }, parentAt[s.Batch], parentAt);
        }

        /// <summary>The parent's totals as its own blocks plus the fixed parts add up: scenario time (summed, as the
        /// search sums every architecture's), memory and parameters (exact for both); its whole time as measured and the
        /// size curve, which turn any summed time into a predicted whole time and speedup (<see cref="Whole"/>).</summary>
        public sealed record Totals(double TimeSeconds, double MemoryBytes, double Parameters)
        {
            /// <summary>The parent as Measure timed it whole: what every predicted time is scaled to.</summary>
            public double MeasuredTimeSeconds { get; init; } = TimeSeconds;

            /// <summary>How whole time grows with summed blocks, as the Measure job fitted it.</summary>
            public SizeCurve Curve { get; init; } = SizeCurve.Additive;

            /// <summary>Summed block time to predicted whole time, and back.</summary>
            public TimeModel Whole => new(TimeSeconds, MeasuredTimeSeconds, Curve);

            /// <summary>The predicted whole time of an architecture whose blocks sum to <paramref name="summed"/>.</summary>
            public double Seconds(double summed) => Whole.Seconds(summed);

            /// <summary>The predicted speedup over the parent of an architecture whose blocks sum to <paramref name="summed"/>.</summary>
            public double Speedup(double summed) => Whole.Speedup(summed);

            /// <summary>The parent with <paramref name="seconds"/> as both its summed and its whole time, on the additive
            /// curve: limits built from it hold measured whole times (the closed loop's).</summary>
            public Totals MeasuredAs(double seconds) => this with { TimeSeconds = seconds, MeasuredTimeSeconds = seconds, Curve = SizeCurve.Additive };
        }

        /// <summary>The spec's constraints as upper bounds on summed resources, at every batch size searched
        /// (<paramref name="parentAt"/>: the parent's totals by batch; scenario.batch's limits first). A time constraint
        /// holds the predicted whole time, so its bound on summed time goes through the size curve
        /// (<see cref="TimeModel.SummedFor"/>), and its messages quote predicted whole times. The parameter limit does not
        /// depend on the batch and is stated once. With several batch sizes each label names its batch.</summary>
        public static IReadOnlyList<ResourceLimit> Limits(Settings spec, IReadOnlyDictionary<int, Totals> parentAt, double? throughputVsParent = null)
        {
            var c = spec.Constraints;
            var limits = new List<ResourceLimit>();
            var batches = spec.Batches;
            foreach (var batch in batches)
            {
                var parent = parentAt[batch];
                var whole = parent.Whole;
                var at = batches.Count > 1 ? $" at batch {batch}" : "";
                var time = At(spec, Time, batch);
                var memory = At(spec, Memory, batch);
                if ((throughputVsParent ?? c.ThroughputVsParent) is { } t)
                    limits.Add(new ResourceLimit(time, whole.SummedFor(parent.MeasuredTimeSeconds / t), $"throughput ≥ {t:0.##}× parent{at}")
                    { Describe = v => $"{whole.Speedup(v):0.00}× parent throughput" });
                if (c.ThroughputTokensPerS is { } tps)
                    limits.Add(new ResourceLimit(time, whole.SummedFor((double)batch * spec.Scenario.Generate / tps), $"throughput ≥ {tps:0.#} tokens/s{at}")
                    { Describe = v => $"{batch * spec.Scenario.Generate / whole.Seconds(v):0.#} tokens/s" });
                if (c.LatencyMs is { } ms)
                    limits.Add(new ResourceLimit(time, whole.SummedFor(ms / 1000), $"latency ≤ {ms:0.###} ms{at}") { Describe = v => $"{whole.Seconds(v) * 1000:0.###} ms" });
                if (c.MemoryVsParent is { } m)
                    limits.Add(new ResourceLimit(memory, parent.MemoryBytes * m, $"memory ≤ {m:0.##}× parent{at}") { Describe = v => $"{v / parent.MemoryBytes:0.00}× parent memory" });
                if (c.MemoryBytes is { } bytes)
                    limits.Add(new ResourceLimit(memory, bytes, $"memory ≤ {bytes:N0} bytes{at}") { Describe = v => $"{v:N0} bytes" });
            }
            if (c.ParamsVsParent is { } p)
            {
                var parent = parentAt[spec.Scenario.Batch];
                limits.Add(new ResourceLimit(Params, parent.Parameters * p, $"parameters ≤ {p:0.##}× parent") { Describe = v => $"{v / parent.Parameters:0.00}× parent parameters" });
            }
            return limits;
        }

        /// <summary>Every limit with the parent's own value, when the parent meets them all (its best child is then the
        /// parent itself, score 0); null when one asks for more than the parent. The spec's ratios to the parent are
        /// refused before the run (PreLaunchChecks); absolute limits (latency_ms, throughput_tokens_per_s, memory_bytes)
        /// only compare with the parent once Measure has costed it.</summary>
        public static string? MetByTheParent(SearchProblem problem, Settings spec, IReadOnlyDictionary<int, Totals> parentAt)
        {
            var parent = new Dictionary<string, double> { [Params] = parentAt[spec.Scenario.Batch].Parameters };
            foreach (var (b, totals) in parentAt)
                (parent[At(spec, Time, b)], parent[At(spec, Memory, b)]) = (totals.TimeSeconds, totals.MemoryBytes);
            if (problem.Limits.Count == 0 || problem.Limits.Any(l => parent[l.Resource] > IntegerScaling.Allowed(problem, l))) return null;
            return string.Join("; ", problem.Limits.Select(l => $"{l.Label}: the parent reaches {l.Describe?.Invoke(parent[l.Resource]) ?? parent[l.Resource].ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}"));
        }

        /// <summary>Lower is better: KL(parent ‖ model), the LM loss the replacement adds, or (top1) how often the model's
        /// top-1 token disagrees with the parent's, as the spec describes it: agreement with the parent, not accuracy on the
        /// text, which a near-chance parent makes mostly noise.</summary>
        internal static double Score(ScoreStage.LayerScores layerScores, string id, ScoringMetric metric)
        {
            var v = layerScores.Of(id);
            return metric switch
            {
                ScoringMetric.LmLoss => v.LmLoss - layerScores.Parent.LmLoss,
                ScoringMetric.Top1 => 1 - v.Agreement,
                _ => v.Kl,
            };
        }

        /// <summary>The choices as the library's variant ids, which Heal takes BLD weights by: a whole block chosen from
        /// combined scores of a decoupled library becomes its attention and FFN variants.</summary>
        public static IReadOnlyList<LayerChoice> AsLibraryChoices(ModelConfig parent, Settings spec, IReadOnlyList<LayerChoice> layers)
        {
            if (spec.Mode == BldMode.Coupled || layers.All(l => l.Ffn.Length > 0)) return layers;
            var pairs = VariantCatalog.Pairs(parent, spec.SearchSpace.Alternatives).ToDictionary(p => p.Block.Id);
            return layers.Select(l =>
            {
                if (l.Ffn.Length > 0) return l;
                var pair = pairs[l.Attention];
                return new LayerChoice(l.Layer, pair.Attention.Id, pair.Ffn.Id);
            }).ToList();
        }
    }
}
