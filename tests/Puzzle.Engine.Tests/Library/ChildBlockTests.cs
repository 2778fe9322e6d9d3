using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class ChildBlockTests
{
    [Fact]
    public void A_child_of_the_parents_shape_reproduces_the_parent_block()
    {
        var config = ParentBlock.Config(kvHeads: 2);
        using var parent = ParentBlock.Create(config, 50);
        using var _ = no_grad();
        using var x = ParentBlock.Activations(51);
        var (cos, sin) = ParentBlock.Rope(config, x.shape[1]);
        using var h = Puzzle.Engine.Runtime.Scalars.Add(x, parent.AttentionOutput(x, cos, sin, null, 0));
        var attention = InitCandidates.Attention(config, parent, AttentionConfig.Gqa(2), x)[InitCandidates.Paper];
        var ffn = InitCandidates.Ffn(parent, FfnConfig.SwiGlu(ParentBlock.Width), h)[InitCandidates.Paper];
        using var child = ChildBlock.Assemble(config, parent.Config, parent, attention, ffn);
        Assert.True(child.Forward(x, cos, sin, null, 0).allclose(parent.Forward(x, cos, sin, null, 0), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Norms_come_from_the_parent_and_a_no_op_has_none()
    {
        var config = ParentBlock.Config();
        using var parent = ParentBlock.Create(config, 52);
        using var linear = Initialisers.LinearAttentionFromValueOutput(ParentBlock.Attention(parent), 4, 4, 8, 32);
        var variant = new BlockConfig(AttentionConfig.Linear, FfnConfig.NoOp);
        using var child = ChildBlock.Assemble(config, variant, parent, linear, null);
        Assert.True(ParentBlock.Same(child.input_layernorm!.weight, parent.input_layernorm!.weight));
        Assert.True(ParentBlock.Same(((LinearAttention)child.self_attn!).linear_attn.weight, linear.linear_attn.weight));
        Assert.Null(child.post_attention_layernorm);
        Assert.Null(child.mlp);
        Assert.Equal(new[] { "input_layernorm.weight", "self_attn.linear_attn.weight" }, child.named_parameters().Select(p => p.name).Order());
    }

    [Fact]
    public void A_module_of_the_wrong_shape_is_refused()
    {
        var config = ParentBlock.Config();
        using var parent = ParentBlock.Create(config, 53);
        var variant = new BlockConfig(AttentionConfig.Gqa(2), FfnConfig.NoOp);
        Assert.Throws<ArgumentException>(() => ChildBlock.Assemble(config, variant, parent, ParentBlock.Attention(parent), null));
        Assert.Throws<ArgumentException>(() => ChildBlock.Assemble(config, variant, parent, null, null));
    }
}
