using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Benchmarks;

/// <summary>
/// How often the closed loop's first round passes a child that the Speed job then measures short of its target, with
/// one timing trusted (the rule before 2026-12-01) and with a pass that only a timing faster than the prediction gives
/// timed a second time and held to it (<c>ClosedLoop</c>, <c>LoopRetiming.FasterThanPredicted</c>). Each process times
/// the parent beside each architecture twice, as the loop does (<see cref="CostMeter.InRounds"/>, <see
/// cref="SearchStage.LoopRounds"/> rounds, a fresh pair of models each time); another process's first timing stands
/// for the Speed job's. The search puts its first child's prediction at the target, so the target is set below the
/// architecture's median measured speedup by the prediction's error (0: the cost model was right), with the default
/// 5% margin; a first timing that misses is timed again and the faster of both counts for each model, under both rules.
/// The parent-unsteady retiming is left out (it needs a Measure job's parent time). Architectures: the pipeline's
/// sampled ones and seeded random ones of its search space (<see cref="TimedModels"/>).
/// Args: [PIPELINE] [processes] [random architectures]; default pipelines/default.yaml, 12, 1.
/// </summary>
public static class LoopRuleBenchmarks
{
    public const string Worker = "loop-rule-worker";
    const double Margin = 0.05;
    static readonly double[] Errors = [-0.025, 0, 0.025, 0.05, 0.075];

    public static BenchmarkReport Run(string[] args)
    {
        var pipeline = args.Length > 0 ? args[0] : "pipelines/default.yaml";
        var processes = args.Length > 1 ? int.Parse(args[1]) : 12;
        var random = args.Length > 2 ? int.Parse(args[2]) : 1;
        var self = typeof(LoopRuleBenchmarks).Assembly.Location;
        var runs = new List<Dictionary<string, Timing[]>>();
        var elapsed = new List<double>();
        for (var p = 0; p < processes; p++)
        {
            var output = Processes.Output("dotnet", self, Worker, pipeline, random.ToString());
            var doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
            runs.Add(doc.GetProperty("timings").EnumerateObject().ToDictionary(a => a.Name,
                a => a.Value.EnumerateArray().Select(t => new Timing(t[0].GetDouble(), t[1].GetDouble())).ToArray()));
            elapsed.Add(doc.GetProperty("elapsed").GetDouble());
            Console.Error.WriteLine($"process {p + 1} of {processes} done");
        }

        var report = new BenchmarkReport("loop-rule");
        var archs = runs[0].Keys.ToList();
        foreach (var a in archs)
        {
            var all = runs.SelectMany(r => r[a]).Select(t => t.Speedup).ToList();
            var firstSecond = runs.Select(r => r[a][1].Speedup / r[a][0].Speedup - 1).ToList();
            report.Add($"{a}: measured speedup, median of {all.Count} timings", Measure.Median(all), "x",
                $"{all.Min():0.00}-{all.Max():0.00}; second timing against the first in the same process {firstSecond.Min():+0.0%;-0.0%;0.0%} to {firstSecond.Max():+0.0%;-0.0%;0.0%}");
        }
        foreach (var error in Errors)
        {
            var (old, now) = (new Tally(), new Tally());
            foreach (var a in archs)
            {
                var target = Measure.Median(runs.SelectMany(r => r[a]).Select(t => t.Speedup).ToList()) / (1 + error);
                var required = target * (1 + Margin);
                for (var i = 0; i < runs.Count; i++)
                {
                    var (first, second) = (runs[i][a][0], runs[i][a][1]);
                    var combined = first.Speedup >= required ? (bool?)null : Timing.Faster(first, second).Speedup >= required;
                    var passOld = combined ?? true;
                    var passNew = combined ?? second.Speedup >= required;
                    for (var j = 0; j < runs.Count; j++)
                        if (j != i)
                        {
                            var speedMisses = runs[j][a][0].Speedup < target;
                            old.Add(passOld, speedMisses);
                            now.Add(passNew, speedMisses);
                        }
                }
            }
            var what = error == 0 ? "the prediction right" : $"the prediction {-error:+0.0%;-0.0%;0.0%} from the median";
            report.Add($"{what}: passed in the first round, then short of the target in another process, one timing trusted", old.BadRate, "fraction", old.Note);
            report.Add($"{what}: passed in the first round, then short of the target in another process, a pass above the prediction timed again", now.BadRate, "fraction", now.Note);
        }
        report.Add("seconds of timing per process", elapsed.Average(), "s", $"{elapsed.Min():0.0}-{elapsed.Max():0.0} s, {archs.Count} architectures timed twice each beside the parent");
        return report;
    }

    /// <summary>One process: the parent beside each architecture, timed twice as the closed loop times them; one JSON line
    /// of each architecture's (parent, child) scenario seconds per timing, and the seconds it all took.</summary>
    public static int Work(string[] args)
    {
        var spec = SpecLoader.Load(args[0]);
        var (names, configs) = TimedModels.Of(spec, int.Parse(args[1]), samples: true);
        var parent = configs[names.IndexOf("parent")];
        var clock = Stopwatch.StartNew();
        var timings = new Dictionary<string, double[][]>();
        foreach (var (name, config) in names.Zip(configs).Where(m => m.First.StartsWith("sample", StringComparison.Ordinal) || m.First.StartsWith("random", StringComparison.Ordinal)))
            timings[name] = [.. Enumerable.Range(0, 2).Select(_ =>
            {
                var timed = CostMeter.InRounds([parent, config], spec.Scenario.Timing(), spec.Scenario.Batch, SearchStage.LoopRounds, ComputeDevice.Cpu);
                return new[] { timed[0].ScenarioSeconds(spec.Scenario.Generate), timed[1].ScenarioSeconds(spec.Scenario.Generate) };
            })];
        Console.WriteLine(JsonSerializer.Serialize(new { timings, elapsed = clock.Elapsed.TotalSeconds }));
        return 0;
    }

    sealed record Timing(double Parent, double Child)
    {
        public double Speedup => Parent / Child;
        public static Timing Faster(Timing a, Timing b) => new(Math.Min(a.Parent, b.Parent), Math.Min(a.Child, b.Child));
    }

    sealed class Tally
    {
        int _pairs, _passed, _bad;
        public void Add(bool passed, bool speedMisses) { _pairs++; if (passed) _passed++; if (passed && speedMisses) _bad++; }
        public double BadRate => _bad / (double)_pairs;
        public string Note => $"{_bad} of {_pairs} pairs of a loop process and a Speed process; {_passed} passed the first round ({_passed / (double)_pairs:0%}), " +
                              $"{_passed - _bad} of them met the target in the other too";
    }
}
