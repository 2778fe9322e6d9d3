using Puzzle.Engine.Library;
using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

public class PruneFfnTests
{
    [Fact]
    public void Full_width_reproduces_the_parent_exactly()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 10);
        using var h = ParentBlock.Activations(11);
        var parent = ParentBlock.Ffn(block);
        using var _ = no_grad();
        using var contribution = ChannelContribution.Compute(parent, block.post_attention_layernorm!, h);
        using var child = Initialisers.PruneFfn(parent, contribution, ParentBlock.Width);
        Assert.True(ParentBlock.Same(child.down_proj.weight, parent.down_proj.weight)); // same channels, same order
        using var n = block.post_attention_layernorm!.forward(h);
        Assert.True(ParentBlock.Same(child.forward(n), parent.forward(n)));
    }

    [Fact]
    public void Pruning_channels_that_contribute_nothing_leaves_the_output_unchanged()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 12);
        using var h = ParentBlock.Activations(13);
        var parent = ParentBlock.Ffn(block);
        using var _ = no_grad();
        int[] dead = [3, 7, 8, 20, 31, 40, 41, 63];
        foreach (var i in dead) parent.down_proj.weight[.., i].zero_();
        using var contribution = ChannelContribution.Compute(parent, block.post_attention_layernorm!, h);
        Assert.All(dead, i => Assert.Equal(0f, contribution[i].item<float>()));

        using var child = Initialisers.PruneFfn(parent, contribution, ParentBlock.Width - dead.Length);
        using var n = block.post_attention_layernorm!.forward(h);
        Assert.Equal(new long[] { ParentBlock.Width - dead.Length, ParentBlock.Hidden }, child.gate_proj.weight.shape);
        Assert.True(child.forward(n).allclose(parent.forward(n), rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void The_kept_channels_are_the_top_ones_in_their_original_order()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 14);
        var parent = ParentBlock.Ffn(block);
        using var generator = new Generator(15);
        using var contribution = rand([ParentBlock.Width], generator: generator);
        const int width = 10;
        using var child = Initialisers.PruneFfn(parent, contribution, width);

        var c = ParentBlock.Values(contribution);
        var top = Enumerable.Range(0, c.Length).OrderByDescending(i => c[i]).Take(width).Order().ToArray();
        using var _ = no_grad();
        for (var k = 0; k < width; k++)
        {
            Assert.True(ParentBlock.Same(child.gate_proj.weight[k], parent.gate_proj.weight[top[k]]));
            Assert.True(ParentBlock.Same(child.up_proj.weight[k], parent.up_proj.weight[top[k]]));
            Assert.True(ParentBlock.Same(child.down_proj.weight[.., k], parent.down_proj.weight[.., top[k]]));
        }
        Assert.True(child.gate_proj.weight.requires_grad); // a trainable module for BLD
    }

    [Fact]
    public void Widths_outside_the_parent_are_refused()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 16);
        using var contribution = ones(ParentBlock.Width);
        Assert.Throws<ArgumentOutOfRangeException>(() => Initialisers.PruneFfn(ParentBlock.Ffn(block), contribution, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Initialisers.PruneFfn(ParentBlock.Ffn(block), contribution, ParentBlock.Width + 1));
        Assert.Throws<ArgumentException>(() => Initialisers.PruneFfn(ParentBlock.Ffn(block), ones(5), 4));
    }

    [Fact]
    public void Ffn_candidates_prune_by_a_contribution_computed_once_for_the_layer()
    {
        var config = ParentBlock.Config();
        using var block = ParentBlock.Create(config, 14);
        using var h = ParentBlock.Activations(15);
        using var _ = no_grad();
        var half = FfnConfig.SwiGlu(ParentBlock.Width / 2);
        using var contribution = ChannelContribution.Compute(block, h);
        var computedHere = (SwiGluFfn)InitCandidates.Ffn(block, half, h)[InitCandidates.Paper];
        var given = (SwiGluFfn)InitCandidates.Ffn(block, half, h, contribution: contribution)[InitCandidates.Paper];
        Assert.True(ParentBlock.Same(given.down_proj.weight, computedHere.down_proj.weight));
        // the given contribution decides: reversed, the other half of the channels is kept
        using var reversed = contribution.max() - contribution;
        var other = (SwiGluFfn)InitCandidates.Ffn(block, half, h, contribution: reversed)[InitCandidates.Paper];
        Assert.False(other.down_proj.weight.allclose(given.down_proj.weight));
        foreach (var m in new[] { computedHere, given, other }) m.Dispose();
    }
}
