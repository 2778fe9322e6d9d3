using System.Diagnostics;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Blockwise local distillation of one variant (decoupled): the variant subblock gets the parent's own residual
/// stream at its layer as input (teacher-forced) and learns the parent subblock's contribution; loss = normalized MSE.
/// Needs only the parent's block at that layer and that layer's activations.
/// </summary>
public static class BlockDistiller
{
    /// <summary>Sequences used to fit initialisers (channel contributions, least squares).</summary>
    const int CalibrationSequences = 32;

    public static BldResult Distill(ModelConfig parentConfig, DecoderBlock parent, BlockVariant variant, ActivationSet train,
        ActivationSet check, BldOptions options, TextWriter log)
    {
        torch.manual_seed(options.Seed);
        var rotary = new RotaryEmbedding(parentConfig.HeadDim, parentConfig.RopeTheta, parentConfig.RopeScaling);
        var (cos, sin) = rotary.At(0, train.Shape.SeqLen, CPU, float32);
        var child = new DecoderBlock(parentConfig, variant.AsBlock);
        var io = new SubblockIO(variant, cos, sin);

        var calibration = Enumerable.Range(0, (int)Math.Min(CalibrationSequences, train.Sequences)).Select(i => (long)i).ToArray();
        var initNmse = new Dictionary<string, double>();
        string chosen;
        using (no_grad())
        using (var calib = io.Batch(train, calibration))
        using (var probe = io.Batch(check, Enumerable.Range(0, (int)check.Sequences).Select(i => (long)i).ToArray()))
        {
            var candidates = Initialise(parentConfig, parent, variant, calib[0], cos, sin);
            foreach (var (name, module) in candidates)
            {
                CopyWeights(module, child);
                initNmse[name] = io.Nmse(child, probe);
            }
            chosen = candidates.Count == 1 ? candidates[0].Name
                : options.Init == LinearInit.Paper ? "paper" : "least_squares";
            CopyWeights(candidates.Single(c => c.Name == chosen).Module, child);
        }

        var clock = Stopwatch.StartNew();
        var batchTokens = (long)options.Batch * train.Shape.SeqLen;
        var batches = Batches(train, options.Batch, (ulong)options.Seed).Select(s => io.Batch(train, s));
        var parameters = child.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var curve = Trainer.Run(parameters, batches, b => Nmse.Of(io.Output(child, b[0]), b[1]), batchTokens, options.Train,
            new ProgressLine($"bld {variant.Id}", options.Tokens, log));
        var tokensPerSecond = curve[^1].Tokens / clock.Elapsed.TotalSeconds;

        double final;
        using (no_grad())
        using (var probe = io.Batch(check, Enumerable.Range(0, (int)check.Sequences).Select(i => (long)i).ToArray()))
            final = io.Nmse(child, probe);
        var prefix = $"model.layers.{variant.Layer}.";
        var weights = child.named_parameters().ToDictionary(p => prefix + p.name, p => p.parameter.detach().clone());
        child.Dispose();
        return new BldResult(weights, initNmse, chosen, initNmse[chosen], final, curve, tokensPerSecond);
    }

    /// <summary>The variant's initialisers as in the paper, plus a least-squares fit for linear replacements.</summary>
    static List<(string Name, nn.Module Module)> Initialise(ModelConfig config, DecoderBlock parent, BlockVariant variant,
        Tensor calibInput, Tensor cos, Tensor sin)
    {
        if (variant.Subblock == Subblock.Attention)
        {
            var attention = (GqaAttention)parent.self_attn!;
            var parentKv = parent.Config.Attention.KvHeads;
            return variant.Attention!.Kind switch
            {
                AttentionKind.Gqa => [("merge_kv_heads", Wrap(parent, Initialisers.MergeKvHeads(attention, config.NumAttentionHeads, parentKv,
                    variant.Attention.KvHeads, config.HeadDim, config.HiddenSize)))],
                AttentionKind.Linear =>
                [
                    ("paper", Wrap(parent, Initialisers.LinearAttentionFromValueOutput(attention, config.NumAttentionHeads, parentKv, config.HeadDim, config.HiddenSize))),
                    ("least_squares", Wrap(parent, Initialisers.LinearAttentionLeastSquares(parent, calibInput, cos, sin))),
                ],
                _ => throw new ArgumentException($"{variant.Id} has nothing to train"),
            };
        }
        var ffn = (SwiGluFfn)parent.mlp!;
        return variant.Ffn!.Kind switch
        {
            FfnKind.SwiGlu => [("channel_contribution", Wrap(parent, Initialisers.PruneFfn(ffn,
                ChannelContribution.Compute(ffn, parent.post_attention_layernorm!, calibInput), variant.Ffn.IntermediateSize)))],
            FfnKind.Linear =>
            [
                ("paper", Wrap(parent, Initialisers.LinearFfnFromUpDown(ffn))),
                ("least_squares", Wrap(parent, Initialisers.LinearFfnLeastSquares(parent, calibInput))),
            ],
            _ => throw new ArgumentException($"{variant.Id} has nothing to train"),
        };
    }

    /// <summary>An initialised subblock with the parent's norm beside it, under the block's parameter names.</summary>
    static nn.Module Wrap(DecoderBlock parent, nn.Module subblock) => new InitialisedSubblock(parent, subblock);

    /// <summary>Copies parameters by name from an initialised subblock into the variant block.</summary>
    static void CopyWeights(nn.Module from, DecoderBlock to)
    {
        using var _ = no_grad();
        var source = from.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in to.named_parameters())
        {
            if (!source.TryGetValue(name, out var s)) throw new InvalidOperationException($"initialiser produced no '{name}'");
            p.copy_(s);
        }
    }

    /// <summary>Shuffled sequence batches over as many epochs as the token budget needs.</summary>
    static IEnumerable<long[]> Batches(ActivationSet set, int batch, ulong seed)
    {
        var size = (int)Math.Min(batch, set.Sequences);
        for (var epoch = 0; ; epoch++)
        {
            var order = Data.TokenDataset.Shuffle(set.Sequences, seed, epoch);
            for (var i = 0; i + size <= order.Length; i += size) yield return order[i..(i + size)];
        }
    }
}
