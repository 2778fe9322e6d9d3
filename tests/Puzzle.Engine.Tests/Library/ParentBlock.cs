using Puzzle.Engine.Model;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Library;

/// <summary>
/// A small seeded parent block (nn.Linear's default distribution, norms perturbed from 1) and random activations, all
/// drawn from generators of their own: torch's global generator is shared with the tests running beside these.
/// </summary>
static class ParentBlock
{
    public const int Hidden = 32, Heads = 4, HeadDim = 8, Width = 64;

    public static ModelConfig Config(int kvHeads = 4) =>
        ModelConfig.Llama(vocab: 64, hidden: Hidden, layers: 1, heads: Heads, kvHeads: kvHeads, intermediate: Width);

    public static DecoderBlock Create(ModelConfig config, long seed)
    {
        Fixtures.Torch();
        using var generator = new Generator((ulong)seed);
        var block = Redrawn(new DecoderBlock(config, config.Blocks[0]), generator);
        using var noGrad = no_grad();
        block.input_layernorm!.weight.copy_(1 + 0.1 * randn([Hidden], generator: generator));
        block.post_attention_layernorm!.weight.copy_(1 + 0.1 * randn([Hidden], generator: generator));
        return block;
    }

    /// <summary>Residual-stream activations [batch, tokens, hidden].</summary>
    public static Tensor Activations(long seed, long batch = 2, long tokens = 16)
    {
        Fixtures.Torch();
        using var generator = new Generator((ulong)seed);
        return randn([batch, tokens, Hidden], generator: generator);
    }

    /// <summary>
    /// Every weight matrix of <paramref name="module"/> drawn again from <paramref name="generator"/>, from nn.Linear's
    /// own distribution, U(±1/√fan_in): a layer's constructor draws from the global generator and takes no other.
    /// </summary>
    public static T Redrawn<T>(T module, Generator generator) where T : TorchSharp.torch.nn.Module
    {
        using var noGrad = no_grad();
        foreach (var p in module.parameters().Where(p => p.dim() == 2))
            p.uniform_(-1 / Math.Sqrt(p.shape[1]), 1 / Math.Sqrt(p.shape[1]), generator: generator);
        return module;
    }

    public static (Tensor Cos, Tensor Sin) Rope(ModelConfig config, long tokens) =>
        new RotaryEmbedding(config).At(0, tokens, CPU, float32);

    public static GqaAttention Attention(DecoderBlock block) => (GqaAttention)block.self_attn!;

    public static SwiGluFfn Ffn(DecoderBlock block) => (SwiGluFfn)block.mlp!;

    /// <summary>Same shape and bitwise the same values.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();
}
