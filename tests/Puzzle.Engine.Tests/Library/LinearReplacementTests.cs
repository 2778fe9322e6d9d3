using Puzzle.Engine.Library;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

/// <summary>The paper's initialisers of linear attention (W_o·W_v) and linear FFN (W_down·W_up).</summary>
public class LinearReplacementTests
{
    const int Heads = ParentBlock.Heads, D = ParentBlock.HeadDim, Hidden = ParentBlock.Hidden;

    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    [InlineData(1)]
    public void Linear_attention_equals_the_parent_on_one_token(int parentKv)
    {
        var config = ParentBlock.Config(kvHeads: parentKv);
        using var block = ParentBlock.Create(config, 30);
        using var _ = no_grad();
        using var linear = Initialisers.LinearAttentionFromValueOutput(ParentBlock.Attention(block), Heads, parentKv, D, Hidden);
        using var x = ParentBlock.Activations(31, batch: 3, tokens: 1); // one token attends only to itself
        var (cos, sin) = ParentBlock.Rope(config, 1);
        var n = block.input_layernorm!.forward(x);
        var parent = block.self_attn!.Forward(n, cos, sin, null, 0);
        Assert.True(linear.Forward(n, cos, sin, null, 0).allclose(parent, rtol: 1e-5, atol: 1e-6));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(2)]
    public void Linear_attention_weight_is_o_times_v_expanded_to_every_query_head(int parentKv)
    {
        using var block = ParentBlock.Create(ParentBlock.Config(kvHeads: parentKv), 32);
        var attention = ParentBlock.Attention(block);
        using var linear = Initialisers.LinearAttentionFromValueOutput(attention, Heads, parentKv, D, Hidden);
        var o = ParentBlock.Values(attention.o_proj.weight.detach()); // [hidden, heads·D]
        var v = ParentBlock.Values(attention.v_proj.weight.detach()); // [parentKv·D, hidden]
        var w = ParentBlock.Values(linear.linear_attn.weight.detach());
        for (var r = 0; r < Hidden; r++)
            for (var c = 0; c < Hidden; c++)
            {
                double sum = 0;
                for (var head = 0; head < Heads; head++)
                {
                    var kv = head / (Heads / parentKv);
                    for (var k = 0; k < D; k++) sum += o[r * Heads * D + head * D + k] * v[(kv * D + k) * Hidden + c];
                }
                Assert.Equal(sum, w[r * Hidden + c], 1e-5);
            }
    }

    [Fact]
    public void Linear_ffn_weight_is_down_times_up()
    {
        using var block = ParentBlock.Create(ParentBlock.Config(), 33);
        var ffn = ParentBlock.Ffn(block);
        using var linear = Initialisers.LinearFfnFromUpDown(ffn);
        var down = ParentBlock.Values(ffn.down_proj.weight.detach()); // [hidden, width]
        var up = ParentBlock.Values(ffn.up_proj.weight.detach()); // [width, hidden]
        var w = ParentBlock.Values(linear.linear_mlp.weight.detach());
        const int width = ParentBlock.Width;
        for (var r = 0; r < Hidden; r++)
            for (var c = 0; c < Hidden; c++)
            {
                double sum = 0;
                for (var k = 0; k < width; k++) sum += down[r * width + k] * up[k * Hidden + c];
                Assert.Equal(sum, w[r * Hidden + c], 1e-5);
            }
    }
}
