using System.Diagnostics;
using System.Text.Json;
using Puzzle.Engine.Heal;
using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Benchmarks;

/// <summary>
/// The memory of one GKD step (forward and backward of the loss, the parent beside the child), three ways, each in a
/// process of its own: the whole-batch loss as Heal computed it before 2026-11-29 (full-vocabulary float32 logits of
/// both models, their softmaxes and gradients at once), the head and losses a slice of positions at a time
/// (<see cref="GkdMemory.LogitSliceBytes"/>, Heal's default now), and that plus block checkpointing
/// (<c>gkd.checkpoint_activations</c>). Reported per way: the resident set's rise during the process's first step
/// above what the models and the batch hold (VmHWM reset through /proc/self/clear_refs before the step; the rise
/// includes the child's gradients, the same each way), and the step's seconds. Every way runs each block in a dispose
/// scope of its own (<see cref="CausalLM.RunBlock"/>); before that, the same shapes took 10,120 and 5,921 MiB the
/// whole-batch way, 3,726 and 5,422 with logit slices, and 3,701 and 5,373 with block checkpointing. Two shapes by default: a 128k vocabulary over a narrow body (the head's
/// memory dominates) and an 8k vocabulary over 12 layers of width 768 (the blocks' activations dominate), 4 × 512 tokens
/// each. Args: [batch] [seq] [vocab] [hidden] [layers] for one shape of your own.
/// </summary>
public static class GkdMemoryBenchmarks
{
    public const string Worker = "gkd-memory-worker";
    static readonly string[] Ways = ["whole-batch loss (as before)", "logit slices", "logit slices + block checkpointing"];

    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("gkd-memory");
        // the head's memory dominates the first shape, the blocks' activations the second
        string[][] shapes = args.Length > 0 ? [args] : [["4", "512", "128256", "256", "8"], ["4", "512", "8192", "768", "12"]];
        foreach (var shape in shapes) Measure(report, shape);
        return report;
    }

    static void Measure(BenchmarkReport report, string[] args)
    {
        var self = typeof(GkdMemoryBenchmarks).Assembly.Location;
        var (batch, seq, vocab, hidden, layers) = Shape(args);
        var setting = $"batch {batch} x {seq}, vocabulary {vocab}, hidden {hidden}, {layers} layers";
        double? before = null;
        for (var way = 0; way < Ways.Length; way++)
        {
            var output = Processes.Output(["dotnet", self, Worker, way.ToString(), .. args]);
            var doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement;
            var rise = doc.GetProperty("step_rss_rise_bytes").GetDouble();
            before ??= rise;
            report.Add($"{setting}: {Ways[way]}: memory of a GKD step", rise / (1 << 20), "MiB",
                $"{rise / before.Value:P0} of the whole-batch way; the models and the batch: {doc.GetProperty("held_bytes").GetDouble() / (1 << 20):F0} MiB");
            report.Add($"{setting}: {Ways[way]}: seconds per GKD step", doc.GetProperty("seconds").GetDouble(), "s", "float32 on the CPU");
            report.Add($"{setting}: {Ways[way]}: total loss", doc.GetProperty("loss").GetDouble(), "", "the same batch and weights each way");
            Console.Error.WriteLine($"{setting}: {Ways[way]}: {rise / (1 << 20):F0} MiB");
        }
    }

    static (int Batch, int Seq, int Vocab, int Hidden, int Layers) Shape(string[] args)
    {
        int At(int i, int fallback) => args.Length > i ? int.Parse(args[i]) : fallback;
        return (At(0, 4), At(1, 512), At(2, 128256), At(3, 256), At(4, 8));
    }

    /// <summary>One way, in this process: builds the models, then measures one step.</summary>
    public static int Work(string[] args)
    {
        var way = int.Parse(args[0]);
        var (batch, seq, vocab, hidden, layers) = Shape(args[1..]);
        var parentConfig = ModelConfig.Llama(vocab, hidden, layers, heads: 8, kvHeads: 4, intermediate: 4 * hidden);
        // a 1.5x-like child: half the layers with 2 KV heads and half the FFN width, one attention removed
        var childConfig = parentConfig with
        {
            Blocks = [.. parentConfig.Blocks.Select((b, l) => l == 1 ? b with { Attention = AttentionConfig.NoOp }
                : l % 2 == 0 ? new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.SwiGlu(2 * hidden)) : b)],
        };
        using var parent = CausalLM.Initialise(parentConfig, seed: 1);
        using var child = CausalLM.Initialise(childConfig, seed: 2);
        parent.eval();
        var tokens = randint(0, vocab, [batch, seq + 1], dtype: int64, generator: new Generator(7));
        var objective = new GkdObjective(parent, child, 1, 1, 0, new GkdMemory(CheckpointBlocks: way == 2));
        double Step()
        {
            using var scope = NewDisposeScope();
            return way == 0 ? WholeBatch(parent, child, tokens) : objective.Step(tokens).Total.item<float>();
        }
        // the first step, measured from a fresh process: a job's malloc keeps what a step freed resident (MallocTuning),
        // so a second step would only show what the first one did not already hold. The rise includes the gradients.
        var held = ResourcePeaks.Rss() ?? throw new InvalidOperationException("no /proc/self/status");
        File.WriteAllText("/proc/self/clear_refs", "5"); // VmHWM back to the current resident set
        var clock = Stopwatch.StartNew();
        var loss = Step();
        var seconds = clock.Elapsed.TotalSeconds;
        var peak = ResourcePeaks.PeakRss() ?? throw new InvalidOperationException("no /proc/self/status");
        Console.WriteLine(JsonSerializer.Serialize(new { step_rss_rise_bytes = peak - held, held_bytes = held, seconds, loss }));
        return 0;
    }

    /// <summary>Heal's loss before 2026-11-29: whole-batch logits, one backward pass through the graph.</summary>
    static double WholeBatch(CausalLM parent, CausalLM child, Tensor tokens)
    {
        var inputs = tokens[.., ..^1];
        var parentHidden = new List<Tensor>();
        Tensor parentLogits;
        using (no_grad()) parentLogits = parent.Forward(inputs, null, parentHidden);
        var childHidden = new List<Tensor>();
        var logits = child.Forward(inputs, null, childHidden);
        var vocab = logits.shape[^1];
        var cos = zeros(1).squeeze();
        for (var l = 0; l < childHidden.Count; l++)
        {
            var similarity = F.cosine_similarity(childHidden[l], parentHidden[l], dim: -1);
            cos = cos.add(StableReduction.Mean(ones_like(similarity) - similarity), Scalars.One);
        }
        var logQ = F.log_softmax(logits.reshape(-1, vocab), 1);
        var logP = F.log_softmax(parentLogits.reshape(-1, vocab), 1);
        var kl = StableReduction.Mean((logP.exp() * (logP - logQ)).sum(1));
        var total = cos.add(kl, Scalars.One);
        total.backward();
        return total.item<float>();
    }
}
