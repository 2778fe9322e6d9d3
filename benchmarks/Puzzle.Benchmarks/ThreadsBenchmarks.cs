using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Cost;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Pipeline.Stages;
using Puzzle.Engine.Runtime;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// What calling <c>torch.set_num_threads</c> with the count a process already has costs on the CPU. libtorch then also
/// fixes oneMKL's thread count for the calling thread, so every matrix product runs on all threads, however small; a
/// process that never calls it leaves oneMKL to choose. Job processes called it with their count every time (they
/// now call it only where the count differs, <see cref="TorchRuntime"/>). Processes of each way alternate; each trains
/// the pipeline's parent from scratch as the Parent job does (its batch and sequence length, AdamW) and times the
/// parent and two block-shape models as Measure does. Reported per way: training tokens/s, the parent's scenario time
/// and the shape models' whole time over the parent's. Args: [PIPELINE] [processes per way] [training steps];
/// default pipelines/default.yaml, 4, 60.
/// </summary>
public static class ThreadsBenchmarks
{
    public const string Worker = "threads-worker";
    static readonly string[] Ways = ["left alone", "set again"];

    public static BenchmarkReport Run(string[] args)
    {
        var pipeline = args.Length > 0 ? args[0] : "pipelines/default.yaml";
        var processes = args.Length > 1 ? int.Parse(args[1]) : 4;
        var steps = args.Length > 2 ? args[2] : "60";
        var self = typeof(ThreadsBenchmarks).Assembly.Location;
        var results = Ways.ToDictionary(w => w, _ => new List<JsonElement>());
        for (var p = 0; p < processes; p++)
            foreach (var way in p % 2 == 0 ? Ways : Ways.Reverse())
            {
                var output = Processes.Output("dotnet", self, Worker, pipeline, way == Ways[1] ? "set" : "alone", steps);
                results[way].Add(JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.Clone());
                Console.Error.WriteLine($"process {p + 1} of {processes}, torch threads {way}: {output.Trim().Split('\n')[^1]}");
            }
        var report = new BenchmarkReport("threads");
        string Range(IEnumerable<double> xs, string format) => $"{xs.Min().ToString(format)}-{xs.Max().ToString(format)}";
        foreach (var way in Ways)
        {
            var r = results[way];
            var train = r.Select(x => x.GetProperty("train_tokens_per_s").GetDouble()).ToList();
            var parent = r.Select(x => x.GetProperty("parent_ms").GetDouble()).ToList();
            report.Add($"torch threads {way}: training tokens/s, the parent's batch and length", Measure.Median(train), "tokens/s",
                $"{Range(train, "N0")} over {r.Count} processes of {r[0].GetProperty("threads").GetInt32()} threads");
            report.Add($"torch threads {way}: the parent's scenario time", Measure.Median(parent), "ms", $"{Range(parent, "0.0")} over {r.Count} processes");
            foreach (var shape in r[0].GetProperty("shapes").EnumerateObject().Select(s => s.Name))
            {
                var ratio = r.Select(x => x.GetProperty("shapes").GetProperty(shape).GetDouble()).ToList();
                report.Add($"torch threads {way}: {shape} model's whole time over the parent's", Measure.Median(ratio), "ratio", $"{Range(ratio, "0.000")} over {r.Count} processes");
            }
        }
        report.Add("training tokens/s, left alone over set again", Measure.Median(results[Ways[0]].Select(x => x.GetProperty("train_tokens_per_s").GetDouble()))
            / Measure.Median(results[Ways[1]].Select(x => x.GetProperty("train_tokens_per_s").GetDouble())), "ratio", "medians");
        report.Add("the parent's scenario time, left alone over set again", Measure.Median(results[Ways[0]].Select(x => x.GetProperty("parent_ms").GetDouble()))
            / Measure.Median(results[Ways[1]].Select(x => x.GetProperty("parent_ms").GetDouble())), "ratio", "medians");
        return report;
    }

    /// <summary>One process: "set" calls <c>torch.set_num_threads</c> with the count torch already has, "alone" does not.</summary>
    public static int Work(string[] args)
    {
        var spec = SpecLoader.Load(args[0]);
        if (args[1] == "set") torch.set_num_threads(torch.get_num_threads());
        var steps = int.Parse(args[2]);
        var parent = ParentStage.PlannedConfig(spec);
        var (batch, length) = (spec.Parent.Pretrain?.Training.Batch ?? 4, spec.Data.SeqLen);

        double tokensPerS;
        using (var model = CausalLM.Initialise(parent, seed: 0))
        using (var optimizer = new AdamW([new AdamW.Group([.. model.named_parameters()], 0.1)], 1e-3, 0.9, 0.95))
        using (var generator = new Generator(0))
        {
            model.train();
            using var tokens = randint(0, parent.VocabSize, new long[] { batch, length + 1 }, dtype: int64, generator: generator);
            var clock = new Stopwatch();
            for (var step = 0; step < steps + 5; step++)
            {
                if (step == 5) clock.Start(); // after 5 steps of warm-up
                using var scope = NewDisposeScope();
                model.zero_grad();
                model.Loss(tokens).backward();
                optimizer.Step();
            }
            tokensPerS = (double)steps * batch * length / clock.Elapsed.TotalSeconds;
        }

        var (attention, _) = VariantCatalog.Shapes(VariantCatalog.For(parent, spec.SearchSpace.Alternatives));
        var depth = MeasureStage.Depth(parent);
        var shapes = attention.Where(a => a.Kind != AttentionKind.NoOp).Take(2).ToList();
        var costs = CostMeter.InRounds([parent, .. shapes.Select(a => CostMeter.ShapeModel(parent, new BlockConfig(a, FfnConfig.NoOp), depth))],
            spec.Scenario.Timing(), spec.Scenario.Batch, MeasureStage.Rounds, ComputeDevice.Cpu);
        var generate = spec.Scenario.Generate;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            threads = torch.get_num_threads(),
            train_tokens_per_s = tokensPerS,
            parent_ms = costs[0].ScenarioSeconds(generate) * 1e3,
            shapes = shapes.Select((a, i) => (Name: $"attention.{a} x{depth}", Ratio: costs[i + 1].ScenarioSeconds(generate) / costs[0].ScenarioSeconds(generate)))
                .ToDictionary(x => x.Name, x => x.Ratio),
        }));
        return 0;
    }
}
