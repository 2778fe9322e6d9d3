using Puzzle.Engine.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Library;

/// <summary>Puts initialised subblocks into a child <see cref="DecoderBlock"/> with the parent's norm weights.</summary>
public static class ChildBlock
{
    /// <summary>
    /// A block of shape <paramref name="variant"/> whose attention and FFN weights are copied from
    /// <paramref name="attention"/> and <paramref name="ffn"/> (null for a no-op) and whose norms are the parent's.
    /// </summary>
    public static DecoderBlock Assemble(ModelConfig model, BlockConfig variant, DecoderBlock parent,
        AttentionSubblock? attention, nn.Module? ffn)
    {
        var reference = parent.parameters().First(); // built where the parent is, in its dtype
        var block = new DecoderBlock(model, variant, reference.device, reference.dtype);
        using var noGrad = no_grad();
        if (block.self_attn is not null)
        {
            Copy(attention ?? throw new ArgumentException($"attention {variant.Attention} needs an initialised module"),
                block.self_attn, "self_attn");
            block.input_layernorm!.weight.copy_(
                (parent.input_layernorm ?? throw new ArgumentException("the parent block has no input_layernorm")).weight);
        }
        if (block.mlp is not null)
        {
            Copy(ffn ?? throw new ArgumentException($"FFN {variant.Ffn} needs an initialised module"), block.mlp, "mlp");
            block.post_attention_layernorm!.weight.copy_(
                (parent.post_attention_layernorm ?? throw new ArgumentException("the parent block has no post_attention_layernorm")).weight);
        }
        return block;
    }

    static void Copy(nn.Module source, nn.Module target, string prefix)
    {
        var from = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in target.named_parameters())
        {
            if (!from.TryGetValue(name, out var s) || !s.shape.SequenceEqual(p.shape))
                throw new ArgumentException(
                    $"{prefix}.{name} [{string.Join(", ", p.shape)}] has no counterpart of that shape in the initialised {source.GetName()}");
            p.copy_(s);
        }
    }
}
