using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Library;

/// <summary>
/// Channel contribution (paper App. A): how much each intermediate channel i of a SwiGLU FFN adds to the residual
/// stream, C_i = mean over tokens of |a_i| · ||W_down[:, i]||₂ with a = silu(gate(n)) * up(n), n = norm(h).
/// TorchSharp stores down_proj.weight as [hidden, width], so channel i is column i. Lowest channels are pruned first.
/// </summary>
public static class ChannelContribution
{
    /// <summary>The contribution of a parent block's SwiGLU FFN, whose input is the block's post-attention norm of h.</summary>
    /// <param name="h">the parent's residual stream at the FFN's input [B, T, hidden]</param>
    /// <returns>C [width], float32</returns>
    public static Tensor Compute(DecoderBlock parent, Tensor h) =>
        Compute(parent.mlp as SwiGluFfn ?? throw new ArgumentException("the parent block's FFN is not SwiGLU"),
            parent.post_attention_layernorm ?? throw new ArgumentException("the parent block has no post_attention_layernorm"), h);

    /// <param name="h">the parent's residual stream at the FFN's input [B, T, hidden]</param>
    /// <returns>C [width], float32</returns>
    public static Tensor Compute(SwiGluFfn parentFfn, RmsNorm postAttentionNorm, Tensor h) =>
        Compute(parentFfn, postAttentionNorm, [h]);

    /// <summary>The same over several calibration batches: the mean is over every token of every batch.</summary>
    public static Tensor Compute(SwiGluFfn parentFfn, RmsNorm postAttentionNorm, IEnumerable<Tensor> batches)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var down = parentFfn.down_proj.weight;
        var width = down.shape[1];
        var sum = zeros(width, dtype: float32, device: down.device);
        long tokens = 0;
        foreach (var h in batches)
        {
            using var step = NewDisposeScope();
            var n = postAttentionNorm.forward(h);
            var a = F.silu(parentFfn.gate_proj.forward(n)) * parentFfn.up_proj.forward(n);
            var flat = a.reshape(-1, width);
            sum.add_(flat.abs().to(float32).sum([0L]), Runtime.Scalars.One); // a held alpha (see Runtime.Scalars)
            tokens += flat.shape[0];
        }
        if (tokens == 0) throw new ArgumentException("channel contribution needs at least one token");
        var columnNorms = Runtime.Scalars.Square(down.to(float32)).sum([0L]).sqrt();
        return (sum / tokens * columnNorms).MoveToOuterDisposeScope();
    }
}
