using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Model;

/// <summary>A layer's attention subblock: GQA or a linear replacement (no-op has no module).</summary>
public abstract class AttentionSubblock : nn.Module
{
    protected AttentionSubblock(string name) : base(name) { }

    /// <param name="x">normalised input [B, T, hidden]</param>
    /// <param name="cache">the layer's KV cache, or null for a full causal pass</param>
    public abstract Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer);
}

/// <summary>Causal grouped-query attention with rotary embeddings (Llama's LlamaAttention).</summary>
public sealed class GqaAttention : AttentionSubblock
{
    readonly int _heads, _kvHeads, _headDim;
    public readonly Linear q_proj, k_proj, v_proj, o_proj;

    public GqaAttention(int hidden, int heads, int kvHeads, int headDim, Device? device = null, ScalarType? dtype = null) : base(nameof(GqaAttention))
    {
        (_heads, _kvHeads, _headDim) = (heads, kvHeads, headDim);
        q_proj = nn.Linear(hidden, heads * headDim, hasBias: false, device: device, dtype: dtype);
        k_proj = nn.Linear(hidden, kvHeads * headDim, hasBias: false, device: device, dtype: dtype);
        v_proj = nn.Linear(hidden, kvHeads * headDim, hasBias: false, device: device, dtype: dtype);
        o_proj = nn.Linear(heads * headDim, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer)
    {
        var (b, t) = (x.shape[0], x.shape[1]);
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        var past = cache?.Length ?? 0;
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        if (t == 1 && past > 0 && _kvHeads != _heads)
        {
            // decoding one token: each KV head's group of query heads becomes a short query sequence against it, so the
            // cache is read in place instead of being copied heads/kv times
            var grouped = F.scaled_dot_product_attention(q.reshape(b, _kvHeads, _heads / _kvHeads, _headDim), k, v);
            return o_proj.forward(grouped.reshape(b, 1, _heads * _headDim));
        }
        if (_kvHeads != _heads)
        {
            k = k.repeat_interleave(_heads / _kvHeads, dim: 1);
            v = v.repeat_interleave(_heads / _kvHeads, dim: 1);
        }
        Tensor attended;
        if (past == 0) attended = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else if (t == 1) attended = F.scaled_dot_product_attention(q, k, v);
        else
        {
            // a chunk after cached positions: query i (absolute past+i) sees keys 0..past+i
            var mask = ones(t, past + t, dtype: @bool, device: x.device).tril(past);
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        }
        return o_proj.forward(attended.transpose(1, 2).reshape(b, t, _heads * _headDim));
    }
}

/// <summary>Attention replaced by one hidden×hidden linear layer (Puzzle's "linear attention"; DeciLM's linear_attn).</summary>
public sealed class LinearAttention : AttentionSubblock
{
    public readonly Linear linear_attn;

    public LinearAttention(int hidden, Device? device = null, ScalarType? dtype = null) : base(nameof(LinearAttention))
    {
        linear_attn = nn.Linear(hidden, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public override Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, int layer) => linear_attn.forward(x);
}
