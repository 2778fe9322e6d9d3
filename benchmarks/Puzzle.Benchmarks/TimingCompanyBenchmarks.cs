using Puzzle.Engine.Cost;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;

namespace Puzzle.Benchmarks;

/// <summary>
/// Whether a model's measured speedup depends on the company it is timed in: the Search job's closed loop times the
/// parent and the child alone, where Measure and Speed time a dozen models in turn. In one process, in alternation,
/// the parent and each of a few random architectures of the search space are timed as the closed loop times them (the
/// two alone) and among the models a Measure job times (head, block shapes, samples), each way as
/// <see cref="CostMeter.InRounds"/> does. Reported: per architecture, its speedup alone over its speedup in company,
/// mean and range over the repeats. Args: [PIPELINE] [repeats] [architectures]; default pipelines/default.yaml, 4, 3.
/// </summary>
public static class TimingCompanyBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var pipeline = args.Length > 0 ? args[0] : "pipelines/default.yaml";
        var repeats = args.Length > 1 ? int.Parse(args[1]) : 4;
        var architectures = args.Length > 2 ? int.Parse(args[2]) : 3;
        var spec = SpecLoader.Load(pipeline);
        var (names, configs) = TimedModels.Of(spec, architectures, samples: true, seed: 1);
        var parent = configs[names.IndexOf("parent")];
        var archs = configs.Where((_, i) => names[i].StartsWith("random", StringComparison.Ordinal)).ToList();
        var company = configs.Where((_, i) => names[i] != "parent" && !names[i].StartsWith("random", StringComparison.Ordinal)).ToList();
        var (timing, batch, generate) = (spec.Scenario.Timing(), spec.Scenario.Batch, spec.Scenario.Generate);
        var ratios = archs.Select(_ => new List<(double Alone, double Company)>()).ToList();
        for (var r = 0; r < repeats; r++)
            for (var a = 0; a < archs.Count; a++)
            {
                double Speedup(IReadOnlyList<MeasuredCost> c) => c[0].ScenarioSeconds(generate) / c[1].ScenarioSeconds(generate);
                var alone = Speedup(CostMeter.InRounds([parent, archs[a]], timing, batch, MeasureStage.Rounds, ComputeDevice.Cpu));
                var among = Speedup(CostMeter.InRounds([parent, archs[a], .. company], timing, batch, MeasureStage.Rounds, ComputeDevice.Cpu));
                ratios[a].Add((alone, among));
                Console.Error.WriteLine($"repeat {r + 1}, architecture {a + 1}: alone {alone:0.000}x, in company {among:0.000}x");
            }
        var report = new BenchmarkReport("timing-company");
        for (var a = 0; a < archs.Count; a++)
        {
            var q = ratios[a].Select(x => x.Alone / x.Company).ToList();
            report.Add($"architecture {a + 1}: speedup timed alone with the parent over speedup among {company.Count} more models", q.Average(), "ratio",
                $"{q.Min():0.000}-{q.Max():0.000} over {repeats} repeats; alone {string.Join(" ", ratios[a].Select(x => x.Alone.ToString("0.00")))}, " +
                $"in company {string.Join(" ", ratios[a].Select(x => x.Company.ToString("0.00")))}; {string.Join(" ", archs[a].Blocks)}");
        }
        return report;
    }
}
