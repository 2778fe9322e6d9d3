using Puzzle.Engine.Model;

namespace Puzzle.Engine.Cost;

/// <summary>A device from its specification sheet: dense bfloat16 FLOP/s and memory bandwidth.</summary>
public sealed record Hardware(string Name, double FlopsPerSecond, double BytesPerSecond)
{
    /// <summary>Published dense (no sparsity) BF16 tensor throughput and HBM bandwidth.</summary>
    public static readonly IReadOnlyDictionary<string, Hardware> Known = new Dictionary<string, Hardware>
    {
        ["h100-sxm"] = new("NVIDIA H100 SXM", 989e12, 3.35e12),
        ["h100-pcie"] = new("NVIDIA H100 PCIe", 756e12, 2.0e12),
        ["h200"] = new("NVIDIA H200", 989e12, 4.8e12),
        ["a100-sxm-80gb"] = new("NVIDIA A100 SXM 80GB", 312e12, 2.039e12),
        ["l40s"] = new("NVIDIA L40S", 362e12, 0.864e12),
    };
}

/// <summary>
/// An analytic roofline cost for hardware that is not here: time = max(FLOPs / peak, bytes moved / bandwidth), in
/// bfloat16, for the scenario's prefill and for one decode step at the middle of generation. A plan, not a measurement.
/// </summary>
public static class Roofline
{
    public static (double PrefillSeconds, double DecodeSecondsPerToken) Block(ModelConfig parent, BlockConfig shape, int batch,
        int prompt, int generate, Hardware hw)
    {
        const int bytesPerValue = 2;
        var weights = WeightCount(parent, shape);
        double attentionFlopsPrefill = 0, attentionFlopsDecode = 0, kvBytesPerToken = 0;
        if (shape.Attention.Kind == AttentionKind.Gqa)
        {
            var context = prompt + generate / 2.0;
            // QKᵀ and AV over a causal prompt (half the square) and over the cache at mid-generation
            attentionFlopsPrefill = 2.0 * batch * parent.NumAttentionHeads * prompt * prompt * parent.HeadDim;
            attentionFlopsDecode = 4.0 * batch * parent.NumAttentionHeads * context * parent.HeadDim;
            kvBytesPerToken = 2.0 * shape.Attention.KvHeads * parent.HeadDim * bytesPerValue * batch * context;
        }
        var prefillFlops = 2.0 * weights * batch * prompt + attentionFlopsPrefill;
        var prefillBytes = weights * bytesPerValue + 2.0 * batch * prompt * parent.HiddenSize * bytesPerValue;
        var decodeFlops = 2.0 * weights * batch + attentionFlopsDecode;
        var decodeBytes = weights * bytesPerValue + kvBytesPerToken;
        return (Math.Max(prefillFlops / hw.FlopsPerSecond, prefillBytes / hw.BytesPerSecond),
            Math.Max(decodeFlops / hw.FlopsPerSecond, decodeBytes / hw.BytesPerSecond));
    }

    const int Bf16Bytes = 2;

    /// <summary>One block's roofline cost, with its parameters and KV cache in bfloat16.</summary>
    public static MeasuredCost BlockCost(ModelConfig parent, BlockConfig shape, int batch, int prompt, int generate, Hardware hw)
    {
        var (prefill, decode) = Block(parent, shape, batch, prompt, generate, hw);
        var parameters = BlockParameters(parent, shape);
        var kv = shape.Attention.Kind == AttentionKind.Gqa ? 2L * shape.Attention.KvHeads * parent.HeadDim * Bf16Bytes : 0;
        return new MeasuredCost(prefill, decode, parameters, parameters * Bf16Bytes, kv);
    }

    /// <summary>Embedding, final norm and LM head: the head's matrix is read once per step and applied to each
    /// sequence's last position, in the prefill as at each generated token (a serving runtime computes no other logits;
    /// CostMeter times the same).</summary>
    public static MeasuredCost HeadCost(ModelConfig parent, int batch, Hardware hw)
    {
        long d = parent.HiddenSize, v = parent.VocabSize;
        var headBytes = (double)v * d * Bf16Bytes;
        var decode = Math.Max(2.0 * v * d * batch / hw.FlopsPerSecond, (headBytes + (double)batch * v * Bf16Bytes) / hw.BytesPerSecond);
        var prefill = decode;
        var parameters = v * d + d + (parent.TieWordEmbeddings ? 0 : v * d);
        return new MeasuredCost(prefill, decode, parameters, parameters * Bf16Bytes, 0);
    }

    /// <summary>A whole model: its blocks and its head (the additive model, which a roofline is by construction).</summary>
    public static MeasuredCost ModelCost(ModelConfig config, int batch, int prompt, int generate, Hardware hw)
    {
        var parts = config.Blocks.Select(b => BlockCost(config, b, batch, prompt, generate, hw)).Append(HeadCost(config, batch, hw)).ToList();
        return new MeasuredCost(parts.Sum(p => p.PrefillSeconds), parts.Sum(p => p.DecodeSecondsPerToken), parts.Sum(p => p.Parameters),
            parts.Sum(p => p.ParameterBytes), parts.Sum(p => p.KvBytesPerToken));
    }

    /// <summary>A block's parameters: its matrices and the norm in front of each subblock it has.</summary>
    public static long BlockParameters(ModelConfig parent, BlockConfig shape) =>
        WeightCount(parent, shape) + (shape.Attention.Kind == AttentionKind.NoOp ? 0 : parent.HiddenSize) +
        (shape.Ffn.Kind == FfnKind.NoOp ? 0 : parent.HiddenSize);

    /// <summary>Weights of the matrices (norms are negligible).</summary>
    public static long WeightCount(ModelConfig parent, BlockConfig shape)
    {
        long d = parent.HiddenSize, hd = parent.HeadDim, h = parent.NumAttentionHeads;
        var attention = shape.Attention.Kind switch
        {
            AttentionKind.Gqa => d * h * hd * 2 + d * shape.Attention.KvHeads * hd * 2,
            AttentionKind.Linear => d * d,
            _ => 0,
        };
        var ffn = shape.Ffn.Kind switch
        {
            FfnKind.SwiGlu => 3 * d * shape.Ffn.IntermediateSize,
            FfnKind.Linear => d * d,
            _ => 0,
        };
        return attention + ffn;
    }
}
