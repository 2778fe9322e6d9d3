using Puzzle.Engine.Model;
using TorchSharp;

namespace Puzzle.Engine.Library;

/// <summary>
/// An initialised attention or FFN module with a copy of the parent's norm, registered under a decoder block's
/// names (<c>input_layernorm</c> + <c>self_attn</c>, or <c>post_attention_layernorm</c> + <c>mlp</c>).
/// </summary>
internal sealed class InitialisedSubblock : torch.nn.Module
{
    public InitialisedSubblock(DecoderBlock parent, torch.nn.Module subblock) : base(nameof(InitialisedSubblock))
    {
        var isAttention = subblock is AttentionSubblock;
        var norm = isAttention ? parent.input_layernorm! : parent.post_attention_layernorm!;
        register_module(isAttention ? "input_layernorm" : "post_attention_layernorm", norm);
        register_module(isAttention ? "self_attn" : "mlp", subblock);
    }
}
