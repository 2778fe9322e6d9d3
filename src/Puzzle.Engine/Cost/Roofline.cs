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
