using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// The seconds of one GKD step (<see cref="GkdObjective.Step(Tensor)"/>: the parent's pass, the child's forward and
/// backward passes, the head and its losses a slice of positions at a time) at the 1B shape's width (hidden 2048, FFN
/// 8192, 32/8 heads, vocabulary 128,256), <c>layers</c> layers each (default 2), 4 × 256 positions, float32 on the CPU:
/// with and without huge pages (<see cref="HugePages"/>, read once per process), in 16 MB logit slices (32 positions,
/// the CPU's slice for metrics) and in slices of <see cref="LogitSlices.MinHeadRows"/> positions (the floor
/// <see cref="LogitSlices.HeadRows(TorchSharp.DeviceType, long)"/> gives GKD where the process has huge pages). Each way in processes of its own,
/// alternating, <c>processes</c> per way (default 1); each process takes three steps and reports their median and its
/// peak RSS. Args: [layers] [processes per way].
/// </summary>
public static class GkdStepBenchmarks
{
    public const string Worker = "gkd-step-worker";
    const int Vocab = 128256, Hidden = 2048, Batch = 4, Seq = 256;
    static readonly (bool HugePages, string Slices)[] Ways = [(false, "16mb"), (false, "floor"), (true, "16mb"), (true, "floor")];

    static string Name((bool HugePages, string Slices) way) =>
        $"{(way.HugePages ? "with" : "without")} huge pages, {(way.Slices == "16mb" ? "16 MB slices (32 positions)" : $"slices of {LogitSlices.MinHeadRows} positions")}";

    public static BenchmarkReport Run(string[] args)
    {
        var layers = args.Length > 0 ? int.Parse(args[0]) : 2;
        var processes = args.Length > 1 ? int.Parse(args[1]) : 1;
        var self = typeof(GkdStepBenchmarks).Assembly.Location;
        var results = Ways.ToDictionary(w => w, _ => new List<JsonElement>());
        for (var p = 0; p < processes; p++)
            foreach (var way in p % 2 == 0 ? Ways : Ways.Reverse())
            {
                var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { self, Worker, way.Slices, layers.ToString() }) start.ArgumentList.Add(a);
                start.Environment[HugePages.Variable] = way.HugePages ? "1" : "0";
                using var process = Process.Start(start)!;
                var output = process.StandardOutput.ReadToEndAsync();
                var error = process.StandardError.ReadToEndAsync();
                process.WaitForExit();
                if (process.ExitCode != 0) throw new InvalidOperationException($"{Worker} failed: {output.Result}{error.Result}");
                var line = output.Result.Trim().Split('\n')[^1];
                results[way].Add(JsonDocument.Parse(line).RootElement.Clone());
                Console.Error.WriteLine($"process {p + 1} of {processes}, {Name(way)}: {line}");
            }

        var report = new BenchmarkReport("gkd-step");
        var setting = $"{layers}-layer model of the 1B width, {Batch} × {Seq} positions, vocabulary {Vocab}";
        List<double> Values((bool, string) way, string key) => results[way].Select(r => r.GetProperty(key).GetDouble()).ToList();
        foreach (var way in Ways)
        {
            var steps = Values(way, "step_s");
            report.Add($"{setting}: seconds per GKD step, {Name(way)}", Measure.Median(steps), "s",
                $"{steps.Min():F1}-{steps.Max():F1} over {processes} processes, each the median of three steps; steps {string.Join(", ", results[way].Select(r => r.GetProperty("steps").ToString()))}");
            report.Add($"{setting}: peak RSS, {Name(way)}", Measure.Median(Values(way, "peak_rss_gb")), "GB", "the worker process's");
        }
        foreach (var hugePages in new[] { false, true })
            report.Add($"{setting}: {(hugePages ? "with" : "without")} huge pages, {LogitSlices.MinHeadRows}-position slices over 16 MB ones",
                Measure.Median(Values((hugePages, "floor"), "step_s")) / Measure.Median(Values((hugePages, "16mb"), "step_s")), "ratio", "seconds per step, medians, same run");
        report.Add($"{setting}: GKD's default slice with huge pages",
            results[(true, "floor")][0].GetProperty("default_rows").GetDouble(), "positions", $"and without: {results[(false, "16mb")][0].GetProperty("default_rows").GetDouble()} (LogitSlices.HeadRows)");
        return report;
    }

    /// <summary>One process: its environment says whether libtorch uses huge pages; args: slices ("16mb" or "floor"), layers.</summary>
    public static int Work(string[] args)
    {
        var sliceBytes = args[0] == "16mb" ? LogitSlices.CpuBytes : LogitSlices.MinHeadRows * Vocab * 4;
        var layers = int.Parse(args[1]);
        var config = ModelConfig.Llama(Vocab, Hidden, layers, heads: 32, kvHeads: 8, intermediate: 8192);
        using var parent = CausalLM.Initialise(config, seed: 1);
        using var child = CausalLM.Initialise(config, seed: 2);
        parent.eval();
        child.train();
        var tokens = randint(0, Vocab, [Batch, Seq + 1], dtype: int64, generator: new Generator(7));
        var objective = new GkdObjective(parent, child, 1, 1, 0, new GkdMemory(LogitSliceBytes: sliceBytes));
        var steps = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            foreach (var p in child.parameters()) p.grad = null;
            var clock = Stopwatch.StartNew();
            using (NewDisposeScope()) objective.Step(tokens);
            steps.Add(clock.Elapsed.TotalSeconds);
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["step_s"] = Measure.Median(steps),
            ["steps"] = string.Join(" ", steps.Select(s => s.ToString("F1"))),
            ["peak_rss_gb"] = (ResourcePeaks.PeakRss() ?? 0) / 1e9,
            ["default_rows"] = LogitSlices.HeadRows(DeviceType.CPU, Vocab),
        }));
        return 0;
    }
}
