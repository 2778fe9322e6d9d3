using System.Diagnostics;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
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

    /// <param name="parent">the parent's block at the variant's layer, on <paramref name="device"/></param>
    public static BldResult Distill(ModelConfig parentConfig, DecoderBlock parent, BlockVariant variant, ActivationSet train,
        ActivationSet check, BldOptions options, TextWriter log, ComputeDevice? device = null)
    {
        device ??= ComputeDevice.Cpu;
        torch.manual_seed(options.Seed);
        var rotary = new RotaryEmbedding(parentConfig.HeadDim, parentConfig.RopeTheta, parentConfig.RopeScaling);
        var (cos, sin) = rotary.At(0, train.Shape.SeqLen, device.Device, device.DType);
        var io = new SubblockIO(variant, cos, sin, device);

        var calibration = Enumerable.Range(0, (int)Math.Min(CalibrationSequences, train.Sequences)).Select(i => (long)i).ToArray();
        var initNmse = new Dictionary<string, double>();
        DecoderBlock child;
        string chosen;
        using (no_grad())
        using (var calib = io.Batch(train, calibration))
        using (var probe = io.Batch(check, Enumerable.Range(0, (int)check.Sequences).Select(i => (long)i).ToArray()))
        {
            // every applicable initialiser, measured on held-out activations before any training
            var candidates = Candidates(parentConfig, parent, variant, calib[0], cos, sin, options.Init);
            DecoderBlock Assemble((AttentionSubblock? Attention, nn.Module? Ffn) c) =>
                ChildBlock.Assemble(parentConfig, variant.AsBlock, parent, c.Attention, c.Ffn);
            foreach (var (name, candidate) in candidates)
                using (var block = Assemble(candidate))
                    initNmse[name] = io.Nmse(block, probe);
            chosen = candidates.Count == 1 ? candidates.Keys.Single()
                : options.Init == LinearInit.Paper ? InitCandidates.Paper : InitCandidates.LeastSquares;
            child = Assemble(candidates[chosen]);
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

    /// <summary>
    /// Initialisations of the variant by name. Decoupled: each applicable initialiser of its one subblock. Coupled:
    /// one pairing, each subblock initialised by the configured initialiser (the parent's own subblock is copied).
    /// </summary>
    static Dictionary<string, (AttentionSubblock? Attention, nn.Module? Ffn)> Candidates(ModelConfig config, DecoderBlock parent,
        BlockVariant variant, Tensor x, Tensor cos, Tensor sin, LinearInit init)
    {
        switch (variant.Subblock)
        {
            case Subblock.Attention:
                return InitCandidates.Attention(config, parent, variant.Attention!, x)
                    .ToDictionary(p => p.Key, p => ((AttentionSubblock?)p.Value, (nn.Module?)null));
            case Subblock.Ffn:
                return InitCandidates.Ffn(parent, variant.Ffn!, x)
                    .ToDictionary(p => p.Key, p => ((AttentionSubblock?)null, (nn.Module?)p.Value));
            default:
            {
                var preferred = init == LinearInit.Paper ? InitCandidates.Paper : InitCandidates.LeastSquares;
                var attention = InitCandidates.Attention(config, parent, variant.Attention!, x);
                using var h = x + parent.AttentionOutput(x, cos, sin, null, 0); // the parent's stream at its FFN
                var ffn = InitCandidates.Ffn(parent, variant.Ffn!, h);
                var a = attention.Count == 0 ? "none" : attention.ContainsKey(preferred) ? preferred : attention.Keys.Single();
                var f = ffn.Count == 0 ? "none" : ffn.ContainsKey(preferred) ? preferred : ffn.Keys.Single();
                return new() { [$"attention:{a}+ffn:{f}"] = (attention.GetValueOrDefault(a), ffn.GetValueOrDefault(f)) };
            }
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
