using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

/// <summary>A small seeded parent block (default nn.Linear init, norms perturbed from 1) and random activations.</summary>
static class ParentBlock
{
    public const int Hidden = 32, Heads = 4, HeadDim = 8, Width = 64;

    public static ModelConfig Config(int kvHeads = 4) =>
        ModelConfig.Llama(vocab: 64, hidden: Hidden, layers: 1, heads: Heads, kvHeads: kvHeads, intermediate: Width);

    public static DecoderBlock Create(ModelConfig config, long seed)
    {
        Fixtures.Torch();
        manual_seed(seed);
        var block = new DecoderBlock(config, config.Blocks[0]);
        using var noGrad = no_grad();
        block.input_layernorm!.weight.copy_(1 + 0.1 * randn(Hidden));
        block.post_attention_layernorm!.weight.copy_(1 + 0.1 * randn(Hidden));
        return block;
    }

    /// <summary>Residual-stream activations [batch, tokens, hidden].</summary>
    public static Tensor Activations(long seed, long batch = 2, long tokens = 16)
    {
        Fixtures.Torch();
        manual_seed(seed);
        return randn(batch, tokens, Hidden);
    }

    public static (Tensor Cos, Tensor Sin) Rope(ModelConfig config, long tokens) =>
        new RotaryEmbedding(config.HeadDim, config.RopeTheta, config.RopeScaling).At(0, tokens, CPU, float32);

    public static GqaAttention Attention(DecoderBlock block) => (GqaAttention)block.self_attn!;

    public static SwiGluFfn Ffn(DecoderBlock block) => (SwiGluFfn)block.mlp!;

    /// <summary>Same shape and bitwise the same values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();
}
