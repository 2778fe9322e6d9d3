using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using Puzzle.Engine.Pipeline.Spec;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Benchmarks;

/// <summary>
/// Issue 2's numbers: forward tokens/s of the example parent, training-step tokens/s of one parent block, and
/// loading one block lazily versus the whole checkpoint.
/// </summary>
public static class FoundationBenchmarks
{
    public static BenchmarkReport Run(string[] args)
    {
        var report = new BenchmarkReport("foundation");
        // the full example's parent (pipelines/moby-2x.yaml); weights do not matter for speed
        var spec = SpecLoader.Load(Path.Combine("pipelines", "moby-2x.yaml")).Parent.Pretrain!;
        var config = spec.Shape(spec.VocabSize, 256) with { BosTokenId = 1, EosTokenId = 2 };
        const int batch = 8, seqLen = 256;
        report.Add("torch threads", torch.get_num_threads(), "threads");

        using (var model = CausalLM.Initialise(config, seed: 0))
        using (no_grad())
        {
            model.eval();
            using var ids = randint(0, config.VocabSize, [batch, seqLen], dtype: int64);
            // a dispose scope frees every intermediate at once, as the pipeline's loops do; left to the GC they pile up and
            // each new buffer costs fresh pages (seen here: 2.5x slower)
            var seconds = Measure.MedianSeconds(() => { using var scope = NewDisposeScope(); model.Forward(ids); });
            report.Add("example parent forward", batch * seqLen / seconds, "tokens/s",
                $"{config.NumLayers} layers, d={config.HiddenSize}, vocab {config.VocabSize}, batch {batch}x{seqLen}, {model.ParameterCount / 1e6:F1}M params");
        }

        using (var block = new DecoderBlock(config, config.Blocks[0]))
        {
            var rotary = new RotaryEmbedding(config);
            var (cos, sin) = rotary.At(0, seqLen, CPU, float32);
            using var x = randn(batch, seqLen, config.HiddenSize);
            using var target = randn(batch, seqLen, config.HiddenSize);
            using var optimizer = optim.AdamW(block.parameters(), 1e-3);
            var seconds = Measure.MedianSeconds(() =>
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                var loss = nn.functional.mse_loss(block.Forward(x, cos, sin, null, 0), target);
                loss.backward();
                optimizer.step();
            });
            report.Add("one parent block, training step", batch * seqLen / seconds, "tokens/s",
                $"forward+backward+AdamW, {config.Blocks[0]}, batch {batch}x{seqLen}");
        }

        using (var model = CausalLM.Initialise(config, seed: 0))
        {
            // a multiple-choice task shaped as the held-out task of moby-2x: contexts of a sequence (255 tokens with BOS)
            // less their last words, four 12-token choices each; scored with each context read once and read per choice
            var rng = new Random(0);
            int[] Tokens(int n) => [.. Enumerable.Range(0, n).Select(_ => rng.Next(3, config.VocabSize))];
            var requests = Enumerable.Range(0, 50).SelectMany(_ =>
            {
                int[] context = [1, .. Tokens(242)];
                return Enumerable.Range(0, 4).Select(_ => new Puzzle.Engine.Evaluation.Tasks.ContinuationRequest(context, Tokens(12)));
            }).ToList();
            var perChoice = Measure.MedianSeconds(() => Puzzle.Engine.Evaluation.Tasks.ChoiceScorer.LogLikelihoods(model, requests, 16, shareContexts: false), 1, 3);
            var shared = Measure.MedianSeconds(() => Puzzle.Engine.Evaluation.Tasks.ChoiceScorer.LogLikelihoods(model, requests, 16), 1, 3);
            var note = $"50 questions x 4 choices, contexts of 243 tokens, choices of 12, the example parent";
            report.Add("multiple-choice task, each choice run whole", requests.Count / perChoice, "choices/s", note);
            report.Add("multiple-choice task, each context read once (KV cache repeated per choice)", requests.Count / shared, "choices/s", note);
            report.Add("context read once / whole", perChoice / shared, "x");
        }

        var checkpoint = args.Length > 0 ? args[0] : WriteScratchCheckpoint(config);
        var (fileConfig, probe) = Checkpoint.Open(checkpoint);
        probe.Dispose();
        var oneBlock = Measure.MedianSeconds(() =>
        {
            using var tensors = CheckpointTensors.Open(checkpoint);
            foreach (var name in tensors.Names.Where(n => n.StartsWith("model.layers.0."))) tensors.Read(name).Dispose();
        }, warmup: 1, repeats: 5);
        var whole = Measure.MedianSeconds(() =>
        {
            var (_, tensors) = Checkpoint.Open(checkpoint);
            using (tensors)
            {
                using var model = new CausalLM(fileConfig);
                model.LoadWeights(tensors.Read);
            }
        }, warmup: 1, repeats: 5);
        report.Add("load one block lazily", oneBlock * 1000, "ms", checkpoint);
        report.Add("load whole checkpoint into the model", whole * 1000, "ms", $"{fileConfig.NumLayers} layers");
        report.Add("whole / one block", whole / oneBlock, "x");
        return report;
    }

    static string WriteScratchCheckpoint(ModelConfig config)
    {
        var dir = Path.Combine(Path.GetTempPath(), "puzzle-bench-parent");
        using var model = CausalLM.Initialise(config, seed: 0);
        Checkpoint.Save(dir, config, model.state_dict());
        return dir;
    }
}
