using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Benchmarks;

/// <summary>
/// How much a timing varies from one process to the next, for the two ways of keeping the fastest of a model's runs:
/// the fastest whole decode (the code before 2026-11-29) and each decode step's fastest run (<see cref="StepTimes"/>).
/// Each of several processes times, as Measure and Speed do (models kept, one run at a time in turn), the head and
/// block-shape models a Measure job times, the parent and random architectures from the search space whole; every
/// run's prefill and decode steps come back, and both ways are computed from the same runs. Reported per way: the
/// largest spread of a measured speedup between processes, and how often a predicted speedup (from one process) is
/// beyond ±10% of a measured one (from another), as when Measure and Speed run minutes apart, for three predictions:
/// summed blocks; summed blocks with the parent's excess over them shared by parameter bytes (<see cref="ExcessPerByte"/>);
/// a line a * summed + b through the parent and the other architectures as timed whole in the same process (each
/// architecture left out of its own line), as a Measure job that also timed a few sampled architectures could fit; and
/// summed blocks times a ratio that grows with the model's size, a + b * summed / the parent's summed, fitted likewise
/// to the parent and the other architectures, or to the parent and one other.
/// Args: [PIPELINE] [processes] [runs] [architectures]; default pipelines/default.yaml, 8, 8 and 5.
/// </summary>
public static class TimingNoiseBenchmarks
{
    public const string Worker = "timing-noise-worker";

    public static BenchmarkReport Run(string[] args)
    {
        var pipeline = args.Length > 0 ? args[0] : "pipelines/default.yaml";
        var processes = args.Length > 1 ? int.Parse(args[1]) : 8;
        var runs = args.Length > 2 ? int.Parse(args[2]) : 8;
        var architectures = args.Length > 3 ? int.Parse(args[3]) : 5;
        var spec = SpecLoader.Load(pipeline);
        var (names, configs) = TimedModels.Of(spec, architectures, samples: false);
        var parent = configs[names.IndexOf("parent")];
        var depth = MeasureStage.Depth(parent);
        var generate = spec.Scenario.Generate;
        var self = typeof(TimingNoiseBenchmarks).Assembly.Location;
        var timings = new List<List<StepTimes>[]>();
        for (var p = 0; p < processes; p++)
        {
            var output = Processes.Output("dotnet", self, Worker, pipeline, runs.ToString(), architectures.ToString());
            var doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
            timings.Add([.. doc.GetProperty("runs").EnumerateArray().Select(model => model.EnumerateArray()
                .Select(r => new StepTimes(r.GetProperty("prefill").GetDouble(), [.. r.GetProperty("decode").EnumerateArray().Select(d => d.GetDouble())])).ToList())]);
            Console.Error.WriteLine($"process {p + 1} of {processes} done");
        }
        var report = new BenchmarkReport("timing-noise");
        var ways = new (string Name, Func<List<StepTimes>, (double Prefill, double Decode)> Keep)[]
        {
            ("fastest whole decode", r => (r.Min(t => t.Prefill), r.Min(t => t.DecodePerToken))),
            ("each step's fastest", r => { var b = r.Aggregate((a, t) => a.Faster(t)); return (b.Prefill, b.DecodePerToken); }),
        };
        var archs = Enumerable.Range(0, architectures).Select(i => $"random {i + 1}").ToList();
        var setting = $"{processes} processes, {runs} runs per model, {architectures} random architectures";
        foreach (var (way, keep) in ways)
        {
            var measured = new List<Dictionary<string, double>>();
            const string Fitted = "a * summed + b, fitted to the parent and the other architectures timed whole";
            const string Ratio = "summed * (a + b * summed / the parent's summed), fitted to the parent and the other architectures timed whole";
            const string RatioOne = "summed * (a + b * summed / the parent's summed), fitted to the parent and one other architecture timed whole";
            var predicted = new Dictionary<string, List<Dictionary<string, double>>>
            {
                ["summed blocks"] = [], ["summed blocks with the parent's excess by bytes"] = [], [Fitted] = [], [Ratio] = [], [RatioOne] = [],
            };
            foreach (var process in timings)
            {
                var cost = names.Select((n, i) => (n, i, keep(process[i]))).ToDictionary(x => x.n, x =>
                    new MeasuredCost(x.Item3.Prefill, x.Item3.Decode, CostMeter.Parameters(configs[x.i]), CostMeter.Parameters(configs[x.i]) * sizeof(float), 0));
                double Seconds(MeasuredCost c) => c.ScenarioSeconds(generate);
                MeasuredCost? Sub(string key, BlockConfig shape) => cost.TryGetValue(key, out var c) ? CostMeter.PerBlock(c, cost["head"], parent, shape, depth, ComputeDevice.Cpu) : null;
                IEnumerable<MeasuredCost> Subblocks(ModelConfig m) => m.Blocks.SelectMany(b => new[]
                {
                    Sub($"attention.{b.Attention}", new BlockConfig(b.Attention, FfnConfig.NoOp)), Sub($"ffn.{b.Ffn}", new BlockConfig(AttentionConfig.NoOp, b.Ffn)),
                }).OfType<MeasuredCost>();
                var excess = ExcessPerByte.Fit(cost["parent"], cost["head"], [.. Subblocks(parent)]);
                foreach (var (predictor, add) in new[] { ("summed blocks", ExcessPerByte.None), ("summed blocks with the parent's excess by bytes", excess) })
                {
                    double Predict(ModelConfig m) => Seconds(cost["head"]) + Subblocks(m).Sum(c => Seconds(add.AddTo(c)));
                    predicted[predictor].Add(archs.ToDictionary(a => a, a => Predict(parent) / Predict(configs[names.IndexOf(a)])));
                }
                // leave one out: each architecture's prediction comes from a line through the parent and the others
                double Summed(ModelConfig m) => Seconds(cost["head"]) + Subblocks(m).Sum(Seconds);
                predicted[Fitted].Add(archs.ToDictionary(a => a, a =>
                {
                    var points = archs.Where(o => o != a).Select(o => (Summed(configs[names.IndexOf(o)]), Seconds(cost[o])))
                        .Prepend((Summed(parent), Seconds(cost["parent"]))).ToList();
                    var (slope, intercept) = Line(points);
                    return (slope * Summed(parent) + intercept) / (slope * Summed(configs[names.IndexOf(a)]) + intercept);
                }));
                // a model's time over its summed blocks grows with its size: a line through (summed / the parent's summed,
                // time / summed) of the parent and the others (or one other: the next architecture), each left out of its own
                double Whole(string o, double slope, double intercept)
                {
                    var summed = Summed(configs[names.IndexOf(o)]);
                    return summed * (intercept + slope * summed / Summed(parent));
                }
                (double, double) RatioPoint(string o) => (Summed(configs[names.IndexOf(o)]) / Summed(parent), Seconds(cost[o]) / Summed(configs[names.IndexOf(o)]));
                foreach (var (predictor, others) in new (string, Func<string, IEnumerable<string>>)[]
                         {
                             (Ratio, a => archs.Where(o => o != a)),
                             (RatioOne, a => [archs[(archs.IndexOf(a) + 1) % archs.Count]]),
                         })
                    predicted[predictor].Add(archs.ToDictionary(a => a, a =>
                    {
                        var (slope, intercept) = Line([.. others(a).Select(RatioPoint).Prepend(RatioPoint("parent"))]);
                        return Whole("parent", slope, intercept) / Whole(a, slope, intercept);
                    }));
                measured.Add(archs.ToDictionary(a => a, a => Seconds(cost["parent"]) / Seconds(cost[a])));
            }
            var spreads = archs.Select(a => measured.Max(m => m[a]) / measured.Min(m => m[a]) - 1).ToList();
            report.Add($"{way}: largest spread of a measured speedup between processes", spreads.Max(), "fraction",
                $"{setting}; per architecture {string.Join(", ", spreads.Select(x => x.ToString("0.0%")))}");
            foreach (var (predictor, list) in predicted)
            {
                var cross = archs.SelectMany(a => list.SelectMany((p, i) => measured.Where((_, j) => j != i).Select(m => p[a] / m[a] - 1))).ToList();
                var same = archs.SelectMany(a => list.Select((p, i) => p[a] / measured[i][a] - 1)).ToList();
                report.Add($"{way}, {predictor}: predicted vs measured speedup beyond ±10%, from different processes", cross.Count(e => Math.Abs(e) > 0.1) / (double)cross.Count,
                    "fraction", $"{cross.Count} pairs, {cross.Min():+0.0%;-0.0%;0.0%} to {cross.Max():+0.0%;-0.0%;0.0%}");
                var each = archs.Select(a => $"{a} {list.Select((p, i) => p[a] / measured[i][a] - 1).Average():+0.0%;-0.0%;0.0%}");
                report.Add($"{way}, {predictor}: largest predicted vs measured speedup error within a process", same.Max(Math.Abs), "fraction",
                    $"{same.Min():+0.0%;-0.0%;0.0%} to {same.Max():+0.0%;-0.0%;0.0%}; mean per architecture: {string.Join(", ", each)}");
            }
        }
        foreach (var a in archs) report.Add($"{a}: measured speedup, median over processes", Measure.Median(timings.Select(process =>
        {
            var (p, m) = (ways[^1].Keep(process[names.IndexOf("parent")]), ways[^1].Keep(process[names.IndexOf(a)]));
            return (p.Prefill + generate * p.Decode) / (m.Prefill + generate * m.Decode);
        })), "x", string.Join(" ", configs[names.IndexOf(a)].Blocks));
        return report;
    }

    /// <summary>The least-squares line through (x, y) points.</summary>
    static (double Slope, double Intercept) Line(IReadOnlyList<(double X, double Y)> points)
    {
        var (mx, my) = (points.Average(p => p.X), points.Average(p => p.Y));
        var slope = points.Sum(p => (p.X - mx) * (p.Y - my)) / points.Sum(p => (p.X - mx) * (p.X - mx));
        return (slope, my - slope * mx);
    }

    /// <summary>One process's timings, printed as one JSON line: every run of every model, prefill and decode steps.</summary>
    public static int Work(string[] args)
    {
        var spec = SpecLoader.Load(args[0]);
        var (runs, architectures) = (int.Parse(args[1]), int.Parse(args[2]));
        var (_, configs) = TimedModels.Of(spec, architectures, samples: false);
        var timing = spec.Scenario.Timing();
        var batch = spec.Scenario.Batch;
        var device = ComputeDevice.Cpu;
        var kept = configs.Select(c => new CausalLM(c)).ToList();
        foreach (var model in kept) CostMeter.Steps(model, timing with { Repeats = 1 }, batch, device); // warm-up
        var one = timing with { Warmup = 0, Repeats = 1 };
        var times = kept.Select(_ => new List<StepTimes>()).ToArray();
        for (var pass = 0; pass < runs; pass++)
            for (var k = 0; k < kept.Count; k++)
            {
                var i = pass % 2 == 0 ? k : kept.Count - 1 - k; // backwards every other pass, as CostMeter.InRounds
                times[i].Add(CostMeter.Steps(kept[i], one, batch, device));
            }
        foreach (var model in kept) model.Dispose();
        Console.WriteLine(JsonSerializer.Serialize(new { runs = times.Select(t => t.Select(r => new { prefill = r.Prefill, decode = r.Decode })) }));
        return 0;
    }
}
