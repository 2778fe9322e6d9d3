using System.Diagnostics;
using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Export;
using Puzzle.Engine.Model;
using Puzzle.Engine.Packaging;
using Puzzle.Engine.Pipeline.Spec;
using TorchSharp;

namespace Puzzle.Benchmarks;

/// <summary>
/// Issue 7's numbers: exporting a child (float32 → bfloat16, read and written one tensor at a time), packing it,
/// pushing it to a folder feed and verifying the package, for the full example's child size and a 200M-parameter model.
/// </summary>
public static class ShipBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("ship");
        var scratch = Path.Combine(Path.GetTempPath(), $"puzzle-ship-bench-{Guid.NewGuid():N}");
        try
        {
            // the full example's parent shape (moby-2x: 6 layers, d=256, 8/4 heads, SwiGLU 704, vocab 4096) as a 2x child
            Layered(report, scratch, "example child", new ModelConfig
            {
                VocabSize = 4096, HiddenSize = 256, NumAttentionHeads = 8, HeadDim = 32,
                Blocks =
                [
                    new(AttentionConfig.Gqa(4), FfnConfig.SwiGlu(704)), new(AttentionConfig.Gqa(2), FfnConfig.SwiGlu(512)),
                    new(AttentionConfig.NoOp, FfnConfig.SwiGlu(384)), new(AttentionConfig.Gqa(1), FfnConfig.SwiGlu(256)),
                    new(AttentionConfig.NoOp, FfnConfig.NoOp), new(AttentionConfig.Gqa(4), FfnConfig.SwiGlu(704)),
                ],
            });
            Layered(report, scratch, "200M-parameter model", ModelConfig.Llama(vocab: 32000, hidden: 1024, layers: 12, heads: 16, kvHeads: 4, intermediate: 2816));
        }
        finally
        {
            if (Directory.Exists(scratch)) Directory.Delete(scratch, recursive: true);
        }
        return report;
    }

    static void Layered(BenchmarkReport report, string scratch, string label, ModelConfig config)
    {
        var dir = Path.Combine(scratch, label.Replace(' ', '-'));
        var heal = Path.Combine(dir, "heal");
        var generator = new torch.Generator(0);
        var weights = CheckpointValidator.ExpectedShapes(config).ToDictionary(p => p.Key, p => torch.randn(p.Value, generator: generator).mul_(0.02));
        var tokenizer = Path.Combine(dir, "tokenizer.json");
        Directory.CreateDirectory(dir);
        File.WriteAllText(tokenizer, """{"version": "1.0", "added_tokens": [], "model": {"type": "BPE", "vocab": {}, "merges": []}}""");
        Checkpoint.Save(heal, config, weights, CheckpointFormat.NemotronNas, tokenizerPath: tokenizer);
        foreach (var t in weights.Values) t.Dispose();
        var parameters = CheckpointValidator.ExpectedShapes(config).Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        var note = $"{parameters / 1e6:F1}M parameters, {config.NumLayers} layers, d={config.HiddenSize}";

        var card = new ModelCardContext { Pipeline = "bench", Model = "child1", Tool = "bench" };
        var clock = Stopwatch.StartNew();
        var export = ChildExporter.Export(heal, Path.Combine(dir, "export"), new ExportOptions { DType = ExportDType.Bfloat16 }, card);
        var exportSeconds = clock.Elapsed.TotalSeconds;
        report.Add($"{label}: export float32 → bfloat16", exportSeconds, "s", $"{note}; {export.WeightBytes / 1e6:F0} MB written, {parameters * 4 / 1e6 / exportSeconds:F0} MB/s read");

        File.WriteAllText(Path.Combine(dir, "pipeline.yaml"), "name: bench\n");
        clock.Restart();
        var pack = ModelPackage.Pack(new PackContents
        {
            Id = "Puzzle.Bench", Version = "1.0.0", ModelDirectory = Path.Combine(dir, "export"), SpecPath = Path.Combine(dir, "pipeline.yaml"),
            Pipeline = "bench", Model = "child1", PipelineKey = new string('0', 64), Jobs = [], Export = new JsonObject(),
        }, Path.Combine(dir, "package"));
        report.Add($"{label}: pack", clock.Elapsed.TotalSeconds, "s", $"package {pack.Bytes / 1e6:F1} MB ({(double)pack.Bytes / export.WeightBytes:P0} of the weights)");

        clock.Restart();
        FeedPublisher.PushAsync(pack.Path, FeedTarget.Folder(Path.Combine(dir, "feed")), false, TextWriter.Null).GetAwaiter().GetResult();
        report.Add($"{label}: push to a folder feed", clock.Elapsed.TotalSeconds, "s", "checks the feed first, reads the package back after");

        clock.Restart();
        PackagedModel.Check(pack.Path);
        report.Add($"{label}: verify the package", clock.Elapsed.TotalSeconds, "s", "extract, SHA-256 of every file, checkpoint check");
        Directory.Delete(dir, recursive: true);
    }
}
