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
/// The block library's numbers: BLD against bare training steps of the same block shape (in this process), the
/// library's wall time with 1 job × 2 threads against 2 jobs × 1 thread, and the peak RSS of BLD for one layer of a
/// 4-layer and a 32-layer parent of the same width. Run from the repository root after a Release build and after
/// `puzzle run pipelines/default.yaml --target Parent` (its cached upstream jobs are reused).
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

    /// <summary>
    /// BLD of every layer's pruned-FFN variant of the default parent, trained together from the parent's stream, against
    /// bare training steps of the same shape on tensors already in memory: efficiency = the bare steps' time for the same
    /// number of steps / the BLD loop's wall time (which also runs the parent).
    /// </summary>
    static void PlumbingOverhead(BenchmarkReport report)
    {
        const string specPath = "pipelines/default.yaml";
        var session = PipelineSession.Open(specPath);
        var parentEntry = session.Store.Find(session.Graph.Find("Parent", "parent").Key);
        var dataEntry = session.Store.Find(session.Graph.Jobs["Data"].Single().Key);
        if (parentEntry is null || dataEntry is null) throw new InvalidOperationException($"run `puzzle run {specPath} --target Parent` first");
        var modelDir = Engine.Pipeline.Stages.ParentStage.ModelDirectory(parentEntry.Directory);
        var config = HfConfig.Read(modelDir);
        var data = Path.Combine(dataEntry.Directory, Engine.Pipeline.Stages.DataStage.Folder);
        using var train = Engine.Data.TokenDataset.Open(data, Engine.Data.DataSplit.Train);
        using var heldout = Engine.Data.TokenDataset.Open(data, Engine.Data.DataSplit.Selection); // BLD checks on the text that selects
        var catalog = Engine.Pipeline.Stages.DistillStage.Catalog(config, session.Spec);
        var variants = catalog.Where(v => v.Id.EndsWith(".ffn.ratio0.5")).ToList();
        var options = session.Spec.Bld.Options(variants[0].Id, config.HiddenSize);
        options = options with { Train = options.Train with { Tokens = 8L * train.SeqLen * 24 } };
        using var parent = ParentStream.Open(modelDir, config, config.NumLayers, Engine.Runtime.ComputeDevice.Cpu);
        var results = BlockDistiller.Distill(parent, variants.Select(v => new BldJob(v, options)).ToList(), train, heldout, TextWriter.Null,
            Engine.Runtime.ComputeDevice.Cpu);
        var steps = results[0].Curve[^1].Step;

        var block = new DecoderBlock(config, variants[0].AsBlock);
        var input = randn(options.Batch, train.SeqLen, config.HiddenSize);
        var target = randn(options.Batch, train.SeqLen, config.HiddenSize);
        var clock = Stopwatch.StartNew();
        Trainer.Run(block.named_parameters().Select(p => (p.name, p.parameter)),
            Enumerable.Repeat(0, int.MaxValue).Select(_ => input), x => Nmse.Of(block.FfnOutput(x), target),
            options.Batch * train.SeqLen, options.Train);
        var bare = clock.Elapsed.TotalSeconds * variants.Count; // the same steps for every variant, one after another
        var tokens = steps * options.Batch * (double)train.SeqLen;
        report.Add($"BLD, {variants.Count} FFN 50% variants trained together from the parent's stream", tokens * variants.Count / results[0].TrainSeconds,
            "variant-tokens/s", $"d={config.HiddenSize}, {steps} steps of {options.Batch}x{train.SeqLen}");
        report.Add("bare training steps, same shapes and steps", tokens * variants.Count / bare, "variant-tokens/s", "tensors already in memory");
        report.Add("BLD efficiency", 100 * bare / results[0].TrainSeconds, "%", "bare steps' time / BLD loop time; goal: at least 50%");
        foreach (var r in results) foreach (var w in r.Weights.Values) w.Dispose();
    }

    /// <summary>The default pipeline's whole library, 1 job × 2 threads against 2 jobs × 1 thread, each in a store with only the upstream jobs.</summary>
    static void CoreSplit(BenchmarkReport report, string specPath)
    {
        var session = PipelineSession.Open(specPath);
        var upstream = session.Graph.JobsFor("Parent").Select(j => session.Store.Find(j.Key)).ToList();
        if (upstream.Any(e => e is null)) throw new InvalidOperationException($"run `puzzle run {specPath} --target Parent` first");
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
            var root = ScratchParent.Create($"depth{layers}", 1024, vocab => ModelConfig.Llama(vocab, 256, layers, 8, 4, 704));
            File.WriteAllText(Path.Combine(root, "pipelines", "depth.yaml"), $$"""
                name: depth{{layers}}
                parent: { path: parent }
                data: { train: [text/*.txt], seq_len: 128 }
                search_space:
                  attention: { kv_heads: [2], linear: false, no_op: false }
                  ffn: { ratios: [0.5], linear: false, no_op: false }
                bld: { tokens: 8192, batch: 8, layers_per_process: 1 }
                """);
            var spec = Path.Combine(root, "pipelines", "depth.yaml");
            Processes.Exec("dotnet", Cli, "run", spec, "--target", "Parent");
            Processes.Exec("dotnet", Cli, "job", spec, "--stage", "Distill", "--id", "layer0.ffn.ratio0.5", "--threads", "2");
            var session = PipelineSession.Open(spec);
            var metrics = session.Store.Find(session.Graph.Find("Distill", "layer0.ffn.ratio0.5").Key)!.Manifest.Metrics;
            report.Add($"BLD job peak RSS, {layers}-layer parent (d=256)", metrics["peak_rss_bytes"]!.GetValue<long>() / 1048576.0, "MiB",
                "layer 0's variants (bld.layers_per_process: 1); goal: within 20% across depths");
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
