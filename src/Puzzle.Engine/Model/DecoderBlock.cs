using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Model;

/// <summary>
/// One child block: h = x + attn(norm(x)); out = h + ffn(norm(h)). A no-op subblock has neither module nor norm,
/// as in DeciLM (vLLM skips input_layernorm / post_attention_layernorm for no-ops).
/// </summary>
public sealed class DecoderBlock : nn.Module
{
    public readonly BlockConfig Config;
    public readonly RmsNorm? input_layernorm, post_attention_layernorm;
    public readonly AttentionSubblock? self_attn;
    public readonly nn.Module<Tensor, Tensor>? mlp;

    /// <param name="device">where the parameters are made (default: the CPU), in <paramref name="dtype"/> (default: float32)</param>
    public DecoderBlock(ModelConfig model, BlockConfig block, Device? device = null, ScalarType? dtype = null) : base(nameof(DecoderBlock))
    {
        Config = block;
        var hidden = model.HiddenSize;
        self_attn = block.Attention.Kind switch
        {
            AttentionKind.Gqa => new GqaAttention(hidden, model.NumAttentionHeads, block.Attention.KvHeads, model.HeadDim, device, dtype),
            AttentionKind.Linear => new LinearAttention(hidden, device, dtype),
            _ => null,
        };
        mlp = block.Ffn.Kind switch
        {
            FfnKind.SwiGlu => new SwiGluFfn(hidden, block.Ffn.IntermediateSize, device, dtype),
            FfnKind.Linear => new LinearFfn(hidden, device, dtype),
            _ => null,
        };
        if (self_attn is not null) input_layernorm = new RmsNorm(hidden, model.RmsNormEps, device, dtype);
        if (mlp is not null) post_attention_layernorm = new RmsNorm(hidden, model.RmsNormEps, device, dtype);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer)
    {
        // add with a held alpha, not +: TorchSharp's + makes a temporary Scalar of 1 (see Runtime.Scalars)
        var h = self_attn is null ? x : x.add(AttentionOutput(x, cos, sin, cache, layer), Runtime.Scalars.One);
        return mlp is null ? h : h.add(FfnOutput(h), Runtime.Scalars.One);
    }

    /// <summary>The attention subblock's contribution to the residual stream (zero for no-op).</summary>
    public Tensor AttentionOutput(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer) =>
        self_attn is null ? zeros_like(x) : self_attn.Forward(input_layernorm!.forward(x), cos, sin, cache, layer);

    /// <summary>The FFN subblock's contribution to the residual stream (zero for no-op).</summary>
    public Tensor FfnOutput(Tensor h) => mlp is null ? zeros_like(h) : mlp.forward(post_attention_layernorm!.forward(h));
}
