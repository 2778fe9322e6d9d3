using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Every applicable initialiser of one variant, by name: <see cref="Paper"/> (paper App. A) and, for the linear
/// replacements, <see cref="LeastSquares"/>. A no-op has nothing to initialise. <see cref="InitReport"/> measures them.
/// </summary>
public static class InitCandidates
{
    public const string Paper = "paper";
    public const string LeastSquares = "least_squares";

    /// <param name="x">the parent's residual stream at the block's input [B, T, hidden], positions from 0 (the least-squares fit)</param>
    public static IReadOnlyDictionary<string, AttentionSubblock> Attention(ModelConfig model, DecoderBlock parent,
        AttentionConfig variant, Tensor x, double ridge = Initialisers.DefaultRidge)
    {
        var gqa = parent.self_attn as GqaAttention ?? throw new ArgumentException("the parent block's attention is not GQA");
        int heads = model.NumAttentionHeads, parentKv = parent.Config.Attention.KvHeads, headDim = model.HeadDim, hidden = model.HiddenSize;
        switch (variant.Kind)
        {
            case AttentionKind.Gqa:
                return new Dictionary<string, AttentionSubblock>
                {
                    [Paper] = Initialisers.MergeKvHeads(gqa, heads, parentKv, variant.KvHeads, headDim, hidden),
                };
            case AttentionKind.Linear:
                var (cos, sin) = Rope(model, x);
                using (cos)
                using (sin)
                    return new Dictionary<string, AttentionSubblock>
                    {
                        [Paper] = Initialisers.LinearAttentionFromValueOutput(gqa, heads, parentKv, headDim, hidden),
                        [LeastSquares] = Initialisers.LinearAttentionLeastSquares(parent, x, cos, sin, ridge),
                    };
            default:
                return new Dictionary<string, AttentionSubblock>();
        }
    }

    /// <param name="h">the parent's residual stream at the FFN's input [B, T, hidden] (channel contribution, least-squares fit)</param>
    /// <param name="contribution">the parent FFN's <see cref="ChannelContribution"/> over <paramref name="h"/>, when already
    /// computed (a layer's FFN variants share it); else it is computed here</param>
    public static IReadOnlyDictionary<string, nn.Module<Tensor, Tensor>> Ffn(DecoderBlock parent, FfnConfig variant, Tensor h,
        double ridge = Initialisers.DefaultRidge, Tensor? contribution = null)
    {
        var swiGlu = parent.mlp as SwiGluFfn ?? throw new ArgumentException("the parent block's FFN is not SwiGLU");
        switch (variant.Kind)
        {
            case FfnKind.SwiGlu:
                using (var computed = contribution is null ? ChannelContribution.Compute(parent, h) : null)
                    return new Dictionary<string, nn.Module<Tensor, Tensor>>
                    {
                        [Paper] = Initialisers.PruneFfn(swiGlu, contribution ?? computed!, variant.IntermediateSize),
                    };
            case FfnKind.Linear:
                return new Dictionary<string, nn.Module<Tensor, Tensor>>
                {
                    [Paper] = Initialisers.LinearFfnFromUpDown(swiGlu),
                    [LeastSquares] = Initialisers.LinearFfnLeastSquares(parent, h, ridge),
                };
            default:
                return new Dictionary<string, nn.Module<Tensor, Tensor>>();
        }
    }

    /// <summary>cos and sin for positions 0..T−1 of x [B, T, hidden].</summary>
    internal static (Tensor Cos, Tensor Sin) Rope(ModelConfig model, Tensor x) =>
        new RotaryEmbedding(model).At(0, x.shape[1], x.device, x.dtype);
}
