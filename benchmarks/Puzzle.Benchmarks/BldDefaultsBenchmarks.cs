using System.Globalization;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline;

namespace Puzzle.Benchmarks;

/// <summary>
/// Whether BLD's defaults improve a variant at the widths users have: random-weight parents (std 0.02, as transformers
/// initialises them) of the default pipeline's width (192) and of Llama-3.2-1B's layer shape (hidden 2048, FFN 8192,
/// 32 query / 8 KV heads), one layer each, BLD of the pruned-FFN (ratio 0.5) and merged-KV-head (half the heads)
/// variants over 16 steps of 8 × 64 tokens (the budget of the GPU run that saw 1e-3 make variants worse), at several
/// learning rates with the default warm-up (lr_reference_width: 0, the rate as given) and with the defaults (bld.lr 1e-3
/// scaled by 192 / hidden_size above width 192). Each row is a variant's held-out normalized MSE after its last step as a
/// fraction of its initialisation's (below 1: training helped). Run from the repository root after a Release build
/// and after any pipeline has fetched its text into .puzzle (pipelines/ci.yaml will do; see <see cref="ScratchParent"/>). Args: learning rates.
/// </summary>
public static class BldDefaultsBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var rates = args.Length > 0 ? args.Select(a => double.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1e-3, 3e-4, 1e-4];
        var settings = rates.Select(r => ($"lr {r:0e0}", $"lr: {r.ToString("R", CultureInfo.InvariantCulture)}, lr_reference_width: 0")).Append(("defaults", "")).ToList();
        var report = new BenchmarkReport("bld-defaults");
        foreach (var (name, hidden, heads, kv, ffn) in new[] { ("d192", 192, 6, 2, 512), ("1b-layer", 2048, 32, 8, 8192) })
        {
            var root = ScratchParent.Create($"bld-{name}", 512, vocab => ModelConfig.Llama(vocab, hidden, 1, heads, kv, ffn));
            foreach (var (label, bld) in settings)
            {
                var spec = Path.Combine(root, "pipelines", $"{label.Replace(' ', '-')}.yaml");
                File.WriteAllText(spec, $$"""
                    name: bld-{{name}}
                    parent: { path: parent }
                    data: { train: [text/*.txt], seq_len: 64 }
                    search_space:
                      attention: { kv_heads: [{{kv / 2}}], linear: false, no_op: false }
                      ffn: { ratios: [0.5], linear: false, no_op: false }
                    bld: { tokens: 8192, batch: 8{{(bld.Length > 0 ? ", " + bld : "")}} }
                    """);
                Processes.Exec("dotnet", Cli, "run", spec, "--target", "Distill", "--store", Path.Combine(root, ".puzzle"));
                var session = PipelineSession.Open(spec, Path.Combine(root, ".puzzle"));
                foreach (var job in session.Graph.Jobs["Distill"])
                {
                    var m = session.Store.Find(job.Key)!.Manifest.Metrics;
                    double init = m["init_nmse"]!.GetValue<double>(), last = m["last_nmse"]!.GetValue<double>();
                    var training = session.Spec.Bld.Training;
                    report.Add($"BLD {name} {job.Id} {label}: last / initial held-out nMSE", last / init, "ratio",
                        $"initial {init:F4}, last {last:F4}, best at step {m["best_step"]}; 16 steps at peak lr {training.LrAt(hidden):0.##e0}, warm-up {training.WarmupSteps}");
                }
            }
            Directory.Delete(root, recursive: true);
        }
        return report;
    }

    static string Cli => Path.GetFullPath(Path.Combine("src", "Puzzle.Cli", "bin", "Release", "net10.0", "puzzle.dll"));
}
