using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>
/// Initialising a block-library variant from the parent's subblock (paper App. A), plus least-squares fits of the
/// linear replacements. Each returns a NEW module of the variant's shape on the parent's device and dtype; the
/// parent is left untouched. Norms belong to the block: <see cref="ChildBlock.Assemble"/> copies them from the parent.
/// </summary>
public static class Initialisers
{
    /// <summary>Default relative ridge of the least-squares fits (see <see cref="NormalEquations"/>).</summary>
    public const double DefaultRidge = 1e-4;

    /// <summary>
    /// A SwiGLU FFN of <paramref name="width"/> channels keeping the parent channels of highest
    /// <paramref name="contribution"/> (ties to the lower index), in their original order: rows of gate/up, columns of down.
    /// </summary>
    public static SwiGluFfn PruneFfn(SwiGluFfn parent, Tensor contribution, int width)
    {
        var (parentWidth, hidden) = (parent.gate_proj.weight.shape[0], parent.gate_proj.weight.shape[1]);
        if (contribution.dim() != 1 || contribution.shape[0] != parentWidth)
            throw new ArgumentException($"contribution must have shape [{parentWidth}], got [{string.Join(", ", contribution.shape)}]");
        if (width <= 0 || width > parentWidth)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"width must be in 1..{parentWidth}");
        var child = new SwiGluFfn((int)hidden, width, parent.gate_proj.weight.device, parent.gate_proj.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (_, order) = contribution.sort(0, descending: true, stable: true);
        var (keep, _) = order.narrow(0, 0, width).to(parent.gate_proj.weight.device).sort();
        child.gate_proj.weight.copy_(parent.gate_proj.weight.index_select(0, keep));
        child.up_proj.weight.copy_(parent.up_proj.weight.index_select(0, keep));
        child.down_proj.weight.copy_(parent.down_proj.weight.index_select(1, keep));
        return child;
    }

    /// <summary>
    /// GQA with <paramref name="kv"/> KV heads: KV head j is the mean of parent KV heads j·g … (j+1)·g−1,
    /// g = parentKv / kv, for k_proj and v_proj; q_proj and o_proj are copied. Query head h uses KV head h / (heads/kv),
    /// so every query head keeps the merge of the KV heads it used.
    /// </summary>
    public static GqaAttention MergeKvHeads(GqaAttention parent, int heads, int parentKv, int kv, int headDim, int hidden)
    {
        CheckGqa(parent, heads, parentKv, headDim, hidden);
        if (kv <= 0 || parentKv % kv != 0)
            throw new ArgumentOutOfRangeException(nameof(kv), kv, $"kv heads must divide the parent's {parentKv}");
        var child = new GqaAttention(hidden, heads, kv, headDim, parent.q_proj.weight.device, parent.q_proj.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var g = parentKv / kv;
        child.q_proj.weight.copy_(parent.q_proj.weight);
        child.o_proj.weight.copy_(parent.o_proj.weight);
        child.k_proj.weight.copy_(parent.k_proj.weight.view(kv, g, headDim, hidden).mean([1L]).reshape(kv * headDim, hidden));
        child.v_proj.weight.copy_(parent.v_proj.weight.view(kv, g, headDim, hidden).mean([1L]).reshape(kv * headDim, hidden));
        return child;
    }

    /// <summary>
    /// The paper's linear attention: attention in which every token attends only to itself, W = W_o · W_v', with
    /// W_v' [heads·D, hidden] the value projection expanded to every query head (each KV head's rows repeated
    /// heads/parentKv times, consecutively, as <see cref="GqaAttention.Forward"/> repeats them).
    /// </summary>
    public static LinearAttention LinearAttentionFromValueOutput(GqaAttention parent, int heads, int parentKv, int headDim, int hidden)
    {
        CheckGqa(parent, heads, parentKv, headDim, hidden);
        var child = new LinearAttention(hidden, parent.o_proj.weight.device, parent.o_proj.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var valueAllHeads = parent.v_proj.weight.view(parentKv, headDim, hidden)
            .repeat_interleave(heads / parentKv, dim: 0).reshape(heads * headDim, hidden);
        child.linear_attn.weight.copy_(parent.o_proj.weight.matmul(valueAllHeads));
        return child;
    }

    /// <summary>The paper's linear FFN: the SwiGLU with its gate removed, W = W_down · W_up.</summary>
    public static LinearFfn LinearFfnFromUpDown(SwiGluFfn parent)
    {
        var child = new LinearFfn((int)parent.down_proj.weight.shape[0], parent.down_proj.weight.device, parent.down_proj.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        child.linear_mlp.weight.copy_(parent.down_proj.weight.matmul(parent.up_proj.weight));
        return child;
    }

    /// <summary>
    /// The weight W [d_out, d_in] minimising ||inputs·Wᵀ − targets||² + λ·||W||² (λ = ridge · tr(XᵀX)/d_in), solved
    /// in float64. inputs [..., d_in] and targets [..., d_out] share their leading shape.
    /// </summary>
    public static Tensor LeastSquares(Tensor inputs, Tensor targets, double ridge = DefaultRidge)
    {
        using var equations = new NormalEquations(inputs.shape[^1], targets.shape[^1], inputs.device);
        equations.Add(inputs, targets);
        return equations.Solve(ridge);
    }

    /// <summary>
    /// Linear attention fitted by least squares to the parent attention on activations x [B, T, hidden] (the
    /// residual stream at the block's input): inputs input_layernorm(x), targets the parent attention's contribution.
    /// </summary>
    public static LinearAttention LinearAttentionLeastSquares(DecoderBlock parentBlock, Tensor x, Tensor cos, Tensor sin,
        double ridge = DefaultRidge)
    {
        var norm = parentBlock.input_layernorm ?? throw new ArgumentException("the parent block has no attention");
        var child = new LinearAttention((int)x.shape[^1], norm.weight.device, norm.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        child.linear_attn.weight.copy_(LeastSquares(norm.forward(x), parentBlock.AttentionOutput(x, cos, sin, null, 0), ridge));
        return child;
    }

    /// <summary>
    /// Linear FFN fitted by least squares to the parent FFN on activations h [B, T, hidden] (the residual stream at
    /// the FFN's input): inputs post_attention_layernorm(h), targets the parent FFN's contribution.
    /// </summary>
    public static LinearFfn LinearFfnLeastSquares(DecoderBlock parentBlock, Tensor h, double ridge = DefaultRidge)
    {
        var norm = parentBlock.post_attention_layernorm ?? throw new ArgumentException("the parent block has no FFN");
        var child = new LinearFfn((int)h.shape[^1], norm.weight.device, norm.weight.dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        child.linear_mlp.weight.copy_(LeastSquares(norm.forward(h), parentBlock.FfnOutput(h), ridge));
        return child;
    }

    static void CheckGqa(GqaAttention parent, int heads, int parentKv, int headDim, int hidden)
    {
        if (heads <= 0 || parentKv <= 0 || heads % parentKv != 0)
            throw new ArgumentException($"the parent's {parentKv} KV heads must divide its {heads} heads");
        long[] q = [heads * headDim, hidden], kv = [parentKv * headDim, hidden];
        if (!parent.q_proj.weight.shape.SequenceEqual(q) || !parent.k_proj.weight.shape.SequenceEqual(kv) ||
            !parent.v_proj.weight.shape.SequenceEqual(kv) || !parent.o_proj.weight.shape.SequenceEqual(new long[] { hidden, heads * headDim }))
            throw new ArgumentException(
                $"the parent attention's weights do not have heads={heads}, kv={parentKv}, head_dim={headDim}, hidden={hidden}");
    }

}
