using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// What huge pages for libtorch's CPU tensors (<see cref="HugePages"/>, <c>THP_MEM_ALLOC_ENABLE=1</c>, read once per
/// process) change at the 1B shape's width (hidden 2048, FFN 8192, 32/8 heads, vocabulary 128,256): a bfloat16
/// checkpoint of <c>layers</c> layers (default 2) read as stored and loaded into a float32 model, and training steps of
/// one block (forward, backward and AdamW on 4 × 512 tokens, as BLD trains a variant), each the fastest of three.
/// Worker processes alternate with and without, <c>processes</c> per way (default 2); reported per way: the median and
/// the range, and the ratios. Args: [layers] [processes per way].
/// </summary>
public static class HugePagesBenchmarks
{
    public const string Worker = "huge-pages-worker";
    static readonly string[] Ways = ["without", "with"];

    public static BenchmarkReport Run(string[] args)
    {
        var layers = args.Length > 0 ? int.Parse(args[0]) : 2;
        var processes = args.Length > 1 ? int.Parse(args[1]) : 2;
        var root = Path.Combine(Path.GetTempPath(), $"puzzle-bench-huge-pages-{Guid.NewGuid():N}");
        try
        {
            var config = ModelConfig.Llama(128256, 2048, layers, heads: 32, kvHeads: 8, intermediate: 8192, tie: true);
            var dir = Path.Combine(root, "parent");
            using (var model = CausalLM.Initialise(config, 0))
                Checkpoint.Save(dir, config, model.state_dict(), dtype: TensorDType.BF16);
            var self = typeof(HugePagesBenchmarks).Assembly.Location;
            var results = Ways.ToDictionary(w => w, _ => new List<JsonElement>());
            for (var p = 0; p < processes; p++)
                foreach (var way in p % 2 == 0 ? Ways : Ways.Reverse())
                {
                    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
                    foreach (var a in new[] { self, Worker, dir }) start.ArgumentList.Add(a);
                    start.Environment[HugePages.Variable] = way == "with" ? "1" : "0";
                    using var process = Process.Start(start)!;
                    var output = process.StandardOutput.ReadToEnd();
                    var error = process.StandardError.ReadToEnd();
                    process.WaitForExit();
                    if (process.ExitCode != 0) throw new InvalidOperationException($"{Worker} failed: {output}{error}");
                    var line = output.Trim().Split('\n')[^1];
                    results[way].Add(JsonDocument.Parse(line).RootElement.Clone());
                    Console.Error.WriteLine($"process {p + 1} of {processes}, {way} huge pages: {line}");
                }
            var report = new BenchmarkReport("huge-pages");
            var gb = results["with"][0].GetProperty("checkpoint_gb").GetDouble();
            (string Key, string Metric, string Unit)[] metrics =
            [
                ("stored_gb_per_s", $"read a {layers}-layer 1B-wide checkpoint ({gb:F2} GB of bf16) as stored", "GB/s"),
                ("load_gb_per_s", "load it into a float32 model (ParentModel.Load)", "GB/s"),
                ("step_tokens_per_s", "train one block (forward, backward, AdamW; 4 × 512 tokens)", "tokens/s"),
                ("peak_rss_gb", "the worker's peak RSS", "GB"),
            ];
            foreach (var (key, metric, unit) in metrics)
            {
                List<double> Values(string way) => results[way].Select(r => r.GetProperty(key).GetDouble()).ToList();
                foreach (var way in Ways)
                    report.Add($"{metric}, {way} huge pages", Measure.Median(Values(way)), unit,
                        $"{Values(way).Min():0.###}-{Values(way).Max():0.###} over {processes} processes");
                report.Add($"{metric}: with over without", Measure.Median(Values("with")) / Measure.Median(Values("without")), "ratio", "medians, same run");
            }
            return report;
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>One process: its environment says whether libtorch uses huge pages.</summary>
    public static int Work(string[] args)
    {
        var dir = args[0];
        var (config, tensors) = Checkpoint.Open(dir);
        double bytes;
        double stored;
        using (tensors)
        {
            var names = tensors.Names.ToList();
            bytes = names.Sum(n => tensors.Info(n).ElementCount * 2);
            stored = bytes / 1e9 / Measure.FastestSeconds(() => { foreach (var n in names) tensors.ReadStored(n).Dispose(); });
        }
        var load = bytes / 1e9 / Measure.FastestSeconds(() => ParentModel.Load(dir).Dispose());

        const int batch = 4, length = 512;
        var block = new DecoderBlock(config, config.Blocks[0]);
        var optimizer = optim.AdamW(block.parameters(), 1e-4);
        var rotary = new RotaryEmbedding(config);
        var (cos, sin) = rotary.At(0, length, CPU, ScalarType.Float32);
        using var generator = new Generator(0);
        using var x = randn([batch, length, config.HiddenSize], generator: generator);
        using var target = randn([batch, length, config.HiddenSize], generator: generator);
        var step = Measure.FastestSeconds(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.mse_loss(block.Forward(x, cos, sin, null, 0), target);
            loss.backward();
            optimizer.step();
        });
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, double>
        {
            ["checkpoint_gb"] = bytes / 1e9,
            ["stored_gb_per_s"] = stored,
            ["load_gb_per_s"] = load,
            ["step_tokens_per_s"] = batch * length / step,
            ["peak_rss_gb"] = (ResourcePeaks.PeakRss() ?? 0) / 1e9,
        }));
        return 0;
    }
}
