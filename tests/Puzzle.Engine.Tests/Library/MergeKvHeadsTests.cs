using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class MergeKvHeadsTests
{
    const int Heads = ParentBlock.Heads, D = ParentBlock.HeadDim, Hidden = ParentBlock.Hidden;

    static (Tensor Parent, Tensor Child) Outputs(DecoderBlock block, GqaAttention child)
    {
        using var x = ParentBlock.Activations(21);
        var (cos, sin) = ParentBlock.Rope(ParentBlock.Config(), x.shape[1]);
        var n = block.input_layernorm!.forward(x);
        return (block.self_attn!.Forward(n, cos, sin, null, 0), child.Forward(n, cos, sin, null, 0));
    }

    /// <summary>Makes the parent's KV heads identical inside each group of <paramref name="g"/> consecutive heads.</summary>
    static void TieGroups(GqaAttention attention, int parentKv, int g)
    {
        foreach (var w in new[] { attention.k_proj.weight, attention.v_proj.weight })
        {
            var heads = w.view(parentKv, D, Hidden);
            for (var kv = 0; kv < parentKv; kv++) heads[kv].copy_(heads[kv - kv % g]);
        }
    }

    [Fact]
    public void Keeping_the_kv_heads_reproduces_the_parent()
    {
        using var block = ParentBlock.Create(ParentBlock.Config(kvHeads: 2), 20);
        using var _ = no_grad();
        using var child = Initialisers.MergeKvHeads(ParentBlock.Attention(block), Heads, 2, 2, D, Hidden);
        var (parent, merged) = Outputs(block, child);
        Assert.True(ParentBlock.Same(merged, parent));
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(4, 1)]
    [InlineData(2, 1)]
    public void Merging_identical_heads_within_each_group_is_exact(int parentKv, int kv)
    {
        using var block = ParentBlock.Create(ParentBlock.Config(kvHeads: parentKv), 22);
        using var _ = no_grad();
        TieGroups(ParentBlock.Attention(block), parentKv, parentKv / kv);
        using var child = Initialisers.MergeKvHeads(ParentBlock.Attention(block), Heads, parentKv, kv, D, Hidden);
        Assert.Equal(new long[] { kv * D, Hidden }, child.k_proj.weight.shape);
        Assert.Equal(new long[] { kv * D, Hidden }, child.v_proj.weight.shape);
        var (parent, merged) = Outputs(block, child);
        Assert.True(merged.allclose(parent, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Merging_different_heads_changes_the_output_but_keeps_its_shape()
    {
        using var block = ParentBlock.Create(ParentBlock.Config(kvHeads: 4), 23);
        using var _ = no_grad();
        var attention = ParentBlock.Attention(block);
        using var child = Initialisers.MergeKvHeads(attention, Heads, 4, 2, D, Hidden);
        // KV head 1 of the child is the mean of parent heads 2 and 3
        using var expected = (attention.k_proj.weight[(2 * D)..(3 * D)] + attention.k_proj.weight[(3 * D)..(4 * D)]) / 2;
        Assert.True(child.k_proj.weight[D..(2 * D)].allclose(expected, rtol: 1e-6, atol: 1e-7));
        Assert.True(ParentBlock.Same(child.q_proj.weight, attention.q_proj.weight));
        Assert.True(ParentBlock.Same(child.o_proj.weight, attention.o_proj.weight));
        var (parent, merged) = Outputs(block, child);
        Assert.Equal(parent.shape, merged.shape);
        Assert.InRange(Nmse.Value(merged, parent), 1e-4, 10);
    }

    [Fact]
    public void A_kv_count_that_does_not_divide_the_parents_is_refused()
    {
        using var block = ParentBlock.Create(ParentBlock.Config(kvHeads: 4), 24);
        Assert.Throws<ArgumentOutOfRangeException>(() => Initialisers.MergeKvHeads(ParentBlock.Attention(block), Heads, 4, 3, D, Hidden));
        Assert.Throws<ArgumentException>(() => Initialisers.MergeKvHeads(ParentBlock.Attention(block), Heads, 2, 1, D, Hidden));
    }
}
