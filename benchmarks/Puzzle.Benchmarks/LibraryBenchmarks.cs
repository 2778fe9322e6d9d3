using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// Issue 4's numbers: BLD tokens/s against a bare training step of the same block shape (in this process), the
/// block library's wall time with 1 job × 2 threads against 2 jobs × 1 thread, and one BLD job's peak RSS for a
/// 4-layer and a 32-layer parent of the same width. Run from the repository root after a Release build and after
/// `puzzle run pipelines/default.yaml --target Calibrate` (its cached upstream jobs are reused).
/// </summary>
public static class LibraryBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("library");
        PlumbingOverhead(report);
        CoreSplit(report, "pipelines/default.yaml");
        PeakMemory(report);
        return report;
    }

    /// <summary>The same pruned-FFN variant trained by BLD (activations read from disk) and by a bare loop on tensors in memory.</summary>
    static void PlumbingOverhead(BenchmarkReport report)
    {
        var spec = SpecLoader.Load(Path.Combine("pipelines", "moby-2x.yaml"));
        var config = Engine.Parents.ParentBuilder.ModelConfig(spec.Parent.Pretrain!, 4096, 256, 1, 2);
        var dir = Path.Combine(Path.GetTempPath(), "puzzle-bench-acts-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            torch.manual_seed(0);
            var parent = new DecoderBlock(config, config.Blocks[0]);
            using (var writer = new ActivationSet.Writer(Path.Combine(dir, "train"), 1, 256, config.HiddenSize))
            using (no_grad())
                for (var b = 0; b < 8; b++)
                {
                    var x = randn(8, 256, config.HiddenSize);
                    writer.Append(ActivationSet.InputOf(0), x);
                    writer.Append(ActivationSet.AttentionOf(0), 0.1f * randn_like(x));
                    writer.Append(ActivationSet.FfnOf(0), 0.2f * randn_like(x));
                }
            var train = ActivationSet.Open(Path.Combine(dir, "train"));
            var variant = new BlockVariant(0, Subblock.Ffn, null, FfnConfig.SwiGlu(384), "ratio0.5", false);
            var options = BldOptions.For(spec.Bld, variant.Id) with { Tokens = 64 * 256 * 3, Batch = 8 };
            var bld = BlockDistiller.Distill(config, parent, variant, train, train, options, TextWriter.Null);

            var block = new DecoderBlock(config, variant.AsBlock);
            var input = randn(8, 256, config.HiddenSize);
            var target = randn(8, 256, config.HiddenSize);
            var clock = Stopwatch.StartNew();
            var curve = Trainer.Run(block.named_parameters().Select(p => (p.name, p.parameter)),
                Enumerable.Repeat(0, int.MaxValue).Select(_ => input), x => Nmse.Of(block.FfnOutput(x), target),
                8 * 256, options.Train);
            var bare = curve[^1].Tokens / clock.Elapsed.TotalSeconds;
            report.Add("BLD job, FFN 50% variant (d=256, width 384)", bld.TokensPerSecond, "tokens/s", "activations read from float16 files each step");
            report.Add("bare training step, same shape", bare, "tokens/s", "tensors already in memory");
            report.Add("BLD plumbing overhead", 100 * (1 - bld.TokensPerSecond / bare), "%", "goal: at most 20%");
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The default pipeline's whole library, 1 job × 2 threads against 2 jobs × 1 thread, each in a store with only the upstream jobs.</summary>
    static void CoreSplit(BenchmarkReport report, string specPath)
    {
        var session = PipelineSession.Open(specPath);
        var upstream = session.Graph.JobsFor("Calibrate").Select(j => session.Store.Find(j.Key)).ToList();
        if (upstream.Any(e => e is null)) throw new InvalidOperationException($"run `puzzle run {specPath} --target Calibrate` first");
        foreach (var (jobs, threads) in new[] { (1, 2), (2, 1) })
        {
            var store = Path.Combine(Path.GetTempPath(), $"puzzle-bench-store-{jobs}x{threads}");
            if (Directory.Exists(store)) Directory.Delete(store, recursive: true);
            foreach (var entry in upstream) Copy(entry!.Directory, Path.Combine(store, "cache", entry.Manifest.Key[..2], entry.Manifest.Key));
            var clock = Stopwatch.StartNew();
            Processes.Exec("dotnet", Cli, "run", specPath, "--target", "Distill", "--store", store, "--jobs", $"{jobs}", "--threads-per-job", $"{threads}");
            var count = session.Graph.Jobs["Distill"].Count;
            report.Add($"default pipeline's library ({count} BLD jobs), {jobs} job{(jobs > 1 ? "s" : "")} × {threads} thread{(threads > 1 ? "s" : "")}",
                clock.Elapsed.TotalSeconds, "s", "wall time of `puzzle run --target Distill`, upstream cached");
            Directory.Delete(store, recursive: true);
        }
    }

    /// <summary>One BLD job's peak RSS for parents of 4 and 32 layers of the same width (random weights, local text).</summary>
    static void PeakMemory(BenchmarkReport report)
    {
        foreach (var layers in new[] { 4, 32 })
        {
            var root = Path.Combine(Path.GetTempPath(), $"puzzle-bench-depth{layers}");
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
            Directory.CreateDirectory(Path.Combine(root, "pipelines"));
            Directory.CreateDirectory(Path.Combine(root, "text"));
            var docs = Directory.GetFiles(Path.Combine(".puzzle", "cache"), "*.txt", SearchOption.AllDirectories).Take(40).ToList();
            if (docs.Count == 0) throw new InvalidOperationException("no fetched text in .puzzle: run pipelines/ci.yaml first");
            foreach (var d in docs) File.Copy(d, Path.Combine(root, "text", Guid.NewGuid().ToString("N") + ".txt"));
            var tokenizer = Engine.Tokenization.BpeTrainer.TrainOnFiles([Path.Combine(root, "text", "*.txt")], root,
                new Engine.Tokenization.BpeTrainerOptions { VocabSize = 1024 });
            var config = ModelConfig.Llama(tokenizer.VocabSize, 256, layers, 8, 4, 704) with { BosTokenId = 1, EosTokenId = 2 };
            using (var model = CausalLM.Initialise(config, 0))
                Checkpoint.Save(Path.Combine(root, "parent"), config, model.state_dict(),
                    tokenizerPath: tokenizer.Save(Path.Combine(root, "tok")));
            File.WriteAllText(Path.Combine(root, "pipelines", "depth.yaml"), $$"""
                name: depth{{layers}}
                parent: { path: parent }
                data: { train: [text/*.txt], seq_len: 128 }
                search_space:
                  attention: { kv_heads: [2], linear: false, no_op: false }
                  ffn: { ratios: [0.5], linear: false, no_op: false }
                bld: { tokens: 8192, batch: 8 }
                """);
            var spec = Path.Combine(root, "pipelines", "depth.yaml");
            Processes.Exec("dotnet", Cli, "run", spec, "--target", "Calibrate");
            Processes.Exec("dotnet", Cli, "job", spec, "--stage", "Distill", "--id", "layer0.ffn.ratio0.5", "--threads", "2");
            var session = PipelineSession.Open(spec);
            var metrics = session.Store.Find(session.Graph.Find("Distill", "layer0.ffn.ratio0.5").Key)!.Manifest.Metrics;
            report.Add($"BLD job peak RSS, {layers}-layer parent (d=256)", metrics["peak_rss_bytes"]!.GetValue<long>() / 1048576.0, "MiB",
                "one FFN variant of layer 0; goal: within 20% across depths");
            Directory.Delete(root, recursive: true);
        }
    }

    static string Cli => Path.GetFullPath(Path.Combine("src", "Puzzle.Cli", "bin", "Release", "net10.0", "puzzle.dll"));

    static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
    }
}
