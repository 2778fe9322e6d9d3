using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

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
    public static Tensor Compute(DecoderBlock parent, Tensor h)
    {
        using var sum = new Sum(parent);
        sum.Add(h);
        return sum.Result();
    }

    /// <param name="h">the parent's residual stream at the FFN's input [B, T, hidden]</param>
    /// <returns>C [width], float32</returns>
    public static Tensor Compute(SwiGluFfn parentFfn, RmsNorm postAttentionNorm, Tensor h) =>
        Compute(parentFfn, postAttentionNorm, [h]);

    /// <summary>The same over several calibration batches: the mean is over every token of every batch.</summary>
    public static Tensor Compute(SwiGluFfn parentFfn, RmsNorm postAttentionNorm, IEnumerable<Tensor> batches)
    {
        using var sum = new Sum(parentFfn, postAttentionNorm);
        foreach (var h in batches) sum.Add(h);
        return sum.Result();
    }

    /// <summary>
    /// The sum of |a| over tokens, batch by batch. <see cref="Forward"/> is the FFN's own pass that adds its channels to
    /// the sum on the way, so that a pass of the parent that runs the FFN anyway (<see cref="ParentStream.Run"/>) gives
    /// the contribution without a second one.
    /// </summary>
    public sealed class Sum : IDisposable
    {
        readonly SwiGluFfn _ffn;
        readonly RmsNorm _norm;
        readonly Tensor _sum;
        long _tokens;

        public Sum(DecoderBlock parent) : this(
            parent.mlp as SwiGluFfn ?? throw new ArgumentException("the parent block's FFN is not SwiGLU"),
            parent.post_attention_layernorm ?? throw new ArgumentException("the parent block has no post_attention_layernorm"))
        {
        }

        public Sum(SwiGluFfn ffn, RmsNorm postAttentionNorm)
        {
            (_ffn, _norm) = (ffn, postAttentionNorm);
            var down = ffn.down_proj.weight;
            _sum = zeros(down.shape[1], dtype: float32, device: down.device).DetachFromDisposeScope();
        }

        /// <summary>Adds the tokens of <paramref name="h"/>, the residual stream at the FFN's input [B, T, hidden].</summary>
        public void Add(Tensor h)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            AddChannels(_ffn.Channels(_norm.forward(h)));
        }

        /// <summary>The FFN's contribution to the residual stream at <paramref name="h"/>, as
        /// <see cref="DecoderBlock.FfnOutput"/> computes it, its tokens added to the sum.</summary>
        public Tensor Forward(Tensor h)
        {
            using var noGrad = no_grad();
            var channels = _ffn.Channels(_norm.forward(h));
            using (NewDisposeScope()) AddChannels(channels);
            return _ffn.down_proj.forward(channels);
        }

        void AddChannels(Tensor channels)
        {
            var flat = channels.reshape(-1, _sum.shape[0]);
            _sum.add_(flat.abs().to(float32).sum([0L]), Runtime.Scalars.One); // a held alpha (see Runtime.Scalars)
            _tokens += flat.shape[0];
        }

        /// <summary>C [width], float32, over every token added.</summary>
        public Tensor Result()
        {
            if (_tokens == 0) throw new ArgumentException("channel contribution needs at least one token");
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var columnNorms = Runtime.Scalars.Square(_ffn.down_proj.weight.to(float32)).sum([0L]).sqrt();
            return (_sum / _tokens * columnNorms).MoveToOuterDisposeScope();
        }

        public void Dispose() => _sum.Dispose();
    }
}
