using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Benchmarks;

/// <summary>
/// How steady the pipeline's timings are between processes with one or more copies of each kept model
/// (<see cref="CostMeter.InRounds"/>'s <c>copies</c>). Each process times, as a Measure job does (its rounds, its
/// scenario), the head model, one model per block shape, the parent, the sampled architectures its size curve is
/// fitted to, and seeded random architectures of the search space; processes with each number of copies alternate, so
/// the machine's drift touches every way alike. Reported per way: each random architecture's measured speedup (parent
/// whole over it whole) and its coefficient of variation between processes, the largest spread, how often the
/// speedup Measure would predict in one process (summed blocks through the size curve fitted there) is beyond ±10% of
/// the one measured in another (as when Measure and Speed run minutes apart), and the seconds a process's timing took.
/// Args: [PIPELINE] [processes per way] [architectures] [copies, comma-separated]; default pipelines/default.yaml, 6, 5, "1,2".
/// </summary>
public static class TimingCopiesBenchmarks
{
    public const string Worker = "timing-copies-worker";

    public static BenchmarkReport Run(string[] args)
    {
        var pipeline = args.Length > 0 ? args[0] : "pipelines/default.yaml";
        var processes = args.Length > 1 ? int.Parse(args[1]) : 6;
        var architectures = args.Length > 2 ? int.Parse(args[2]) : 5;
        var ways = (args.Length > 3 ? args[3] : "1,2").Split(',').Select(int.Parse).ToList();
        var spec = SpecLoader.Load(pipeline);
        var (names, configs) = TimedModels.Of(spec, architectures, samples: true);
        var parent = configs[names.IndexOf("parent")];
        var depth = MeasureStage.Depth(parent);
        var generate = spec.Scenario.Generate;
        var self = typeof(TimingCopiesBenchmarks).Assembly.Location;
        var results = ways.ToDictionary(w => w, _ => new List<(Dictionary<string, double> Seconds, double Elapsed)>());
        for (var p = 0; p < processes; p++)
            foreach (var copies in p % 2 == 0 ? ways : ways.AsEnumerable().Reverse())
            {
                var output = Processes.Output("dotnet", self, Worker, pipeline, architectures.ToString(), copies.ToString());
                var doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
                var seconds = doc.GetProperty("seconds").EnumerateArray().Select((s, i) => (names[i], s.GetDouble())).ToDictionary(x => x.Item1, x => x.Item2);
                results[copies].Add((seconds, doc.GetProperty("elapsed").GetDouble()));
                Console.Error.WriteLine($"process {p + 1} of {processes} with {copies} copies done");
            }

        var archs = Enumerable.Range(0, architectures).Select(i => $"random {i + 1}").ToList();
        var report = new BenchmarkReport("timing-copies");
        foreach (var copies in ways)
        {
            var runs = results[copies];
            var measured = runs.Select(r => archs.ToDictionary(a => a, a => r.Seconds["parent"] / r.Seconds[a])).ToList();
            var predicted = runs.Select(r => Predict(r.Seconds, names, configs, parent, depth, archs)).ToList();
            var way = $"{copies} {(copies == 1 ? "copy" : "copies")}";
            var cvs = archs.Select(a => Cv(measured.Select(m => m[a]))).ToList();
            report.Add($"{way}: coefficient of variation of a measured speedup between processes, mean over architectures", cvs.Average(), "fraction",
                $"{processes} processes; per architecture {string.Join(", ", cvs.Select(x => x.ToString("0.0%")))}");
            var spreads = archs.Select(a => measured.Max(m => m[a]) / measured.Min(m => m[a]) - 1).ToList();
            report.Add($"{way}: largest spread of a measured speedup between processes", spreads.Max(), "fraction",
                $"per architecture {string.Join(", ", spreads.Select(x => x.ToString("0.0%")))}; speedups {string.Join("; ", archs.Select(a => $"{a} {string.Join(" ", measured.Select(m => m[a].ToString("0.00")))}"))}");
            var cross = archs.SelectMany(a => predicted.SelectMany((p, i) => measured.Where((_, j) => j != i).Select(m => p[a] / m[a] - 1))).ToList();
            report.Add($"{way}: predicted (size curve) vs measured speedup beyond ±10%, from different processes", cross.Count(e => Math.Abs(e) > 0.1) / (double)cross.Count,
                "fraction", $"{cross.Count} pairs, {cross.Min():+0.0%;-0.0%;0.0%} to {cross.Max():+0.0%;-0.0%;0.0%}");
            report.Add($"{way}: seconds of timing per process", runs.Average(r => r.Elapsed), "s",
                $"{runs.Min(r => r.Elapsed):0.0}-{runs.Max(r => r.Elapsed):0.0} s over {runs.Count} processes, {configs.Count} models");
        }
        return report;
    }

    /// <summary>Each random architecture's speedup as a Measure job of one process predicts it: its summed blocks and
    /// the head through the size curve fitted to the sampled architectures timed whole there.</summary>
    static Dictionary<string, double> Predict(Dictionary<string, double> seconds, List<string> names, List<ModelConfig> configs, ModelConfig parent, int depth,
        List<string> archs)
    {
        var head = seconds["head"];
        double Summed(ModelConfig m) => head + m.Blocks.Sum(b => Block($"attention.{b.Attention}") + Block($"ffn.{b.Ffn}"));
        double Block(string key) => Math.Max(0, (seconds[key] - head) / depth);
        var parentSummed = Summed(parent);
        var samples = names.Where(n => n.StartsWith("sample", StringComparison.Ordinal)).Select(n => (Summed(configs[names.IndexOf(n)]), seconds[n]));
        var curve = SizeCurve.Fit(samples, parentSummed, seconds["parent"]);
        return archs.ToDictionary(a => a, a => 1 / curve.Ratio(Summed(configs[names.IndexOf(a)]) / parentSummed));
    }

    static double Cv(IEnumerable<double> values)
    {
        var v = values.ToList();
        var mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Count) / mean;
    }

    /// <summary>One process: every model timed as a Measure job times them, with the given copies; one JSON line of each
    /// model's scenario seconds, in the models' order, and the seconds the timing took.</summary>
    public static int Work(string[] args)
    {
        var spec = SpecLoader.Load(args[0]);
        var (architectures, copies) = (int.Parse(args[1]), int.Parse(args[2]));
        var (_, configs) = TimedModels.Of(spec, architectures, samples: true);
        var clock = Stopwatch.StartNew();
        var costs = CostMeter.InRounds(configs, spec.Scenario.Timing(), spec.Scenario.Batch, MeasureStage.Rounds, ComputeDevice.Cpu, copies: copies);
        Console.WriteLine(JsonSerializer.Serialize(new { seconds = costs.Select(c => c.ScenarioSeconds(spec.Scenario.Generate)), elapsed = clock.Elapsed.TotalSeconds }));
        return 0;
    }
}
