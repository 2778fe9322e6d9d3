namespace Puzzle.Engine.Model;

/// <summary>
/// RoPE scaling as config.json's <c>rope_scaling</c> (or transformers 5's <c>rope_parameters</c>) states it, for the
/// kinds transformers' Llama computes and <see cref="RotaryEmbedding"/> computes the same way: <c>llama3</c>
/// (frequency-dependent, with <see cref="LowFreqFactor"/>, <see cref="HighFreqFactor"/> and
/// <see cref="OriginalMaxPositionEmbeddings"/>), <c>linear</c> (every frequency divided by <see cref="Factor"/>),
/// <c>dynamic</c> (NTK: the same as no scaling at the positions up to max_position_embeddings, the only ones the
/// pipeline runs) and <c>yarn</c> (frequencies blended between the two by dimension, cos and sin scaled by an attention
/// factor; its optional settings below). A setting a kind does not use is null.
/// </summary>
public sealed record RopeScaling(
    string RopeType, double Factor, double? LowFreqFactor = null, double? HighFreqFactor = null, int? OriginalMaxPositionEmbeddings = null)
{
    /// <summary>yarn: what cos and sin are multiplied by; null: from <see cref="Factor"/> (and <see cref="Mscale"/>).</summary>
    public double? AttentionFactor { get; init; }
    /// <summary>yarn: the rotations that bound the blend (transformers' defaults 32 and 1 where null).</summary>
    public double? BetaFast { get; init; }
    public double? BetaSlow { get; init; }
    /// <summary>yarn: DeepSeek's attention-factor settings, used together where <see cref="AttentionFactor"/> is null.</summary>
    public double? Mscale { get; init; }
    public double? MscaleAllDim { get; init; }
    /// <summary>yarn: whether the blend's bounds are rounded to whole dimensions (null: true, transformers' default).</summary>
    public bool? Truncate { get; init; }
}

/// <summary>
/// A Llama-family causal LM in which every layer has its own <see cref="BlockConfig"/>. With every block
/// GQA + SwiGLU of the same shape it is exactly Llama.
/// </summary>
public sealed record ModelConfig
{
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int HeadDim { get; init; }
    public required IReadOnlyList<BlockConfig> Blocks { get; init; }
    public double RmsNormEps { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public int? BosTokenId { get; init; }
    public int? EosTokenId { get; init; }
    /// <summary>End-of-sequence ids after <see cref="EosTokenId"/>, where config.json lists several (Llama 3.1 Instruct:
    /// 128001, 128008, 128009): generation stops at any of them, so they are written back as the list.</summary>
    public IReadOnlyList<int> MoreEosTokenIds { get; init; } = [];

    public int NumLayers => Blocks.Count;

    /// <summary>True when every block is GQA + SwiGLU with the same KV heads and width: plain Llama.</summary>
    public bool IsHomogeneous =>
        Blocks.All(b => b.Attention.Kind == AttentionKind.Gqa && b.Ffn.Kind == FfnKind.SwiGlu) &&
        Blocks.Select(b => (b.Attention.KvHeads, b.Ffn.IntermediateSize)).Distinct().Count() == 1;

    /// <summary>A homogeneous Llama configuration.</summary>
    public static ModelConfig Llama(int vocab, int hidden, int layers, int heads, int kvHeads, int intermediate,
        int? headDim = null, double ropeTheta = 10000, bool tie = false, int maxPositions = 2048) => new()
        {
            VocabSize = vocab, HiddenSize = hidden, NumAttentionHeads = heads, HeadDim = headDim ?? hidden / heads,
            Blocks = Enumerable.Repeat(new BlockConfig(AttentionConfig.Gqa(kvHeads), FfnConfig.SwiGlu(intermediate)), layers).ToArray(),
            RopeTheta = ropeTheta, TieWordEmbeddings = tie, MaxPositionEmbeddings = maxPositions,
        };

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the configuration is inconsistent.</summary>
    public void Validate()
    {
        if (VocabSize <= 0) throw new ArgumentException($"vocab_size must be positive, got {VocabSize}");
        if (HiddenSize <= 0) throw new ArgumentException($"hidden_size must be positive, got {HiddenSize}");
        if (NumAttentionHeads <= 0) throw new ArgumentException($"num_attention_heads must be positive, got {NumAttentionHeads}");
        if (HeadDim <= 0 || HeadDim % 2 != 0) throw new ArgumentException($"head_dim must be a positive even number, got {HeadDim}");
        if (Blocks.Count == 0) throw new ArgumentException("num_hidden_layers must be positive");
        for (var i = 0; i < Blocks.Count; i++)
        {
            var b = Blocks[i];
            if (b.Attention.Kind == AttentionKind.Gqa &&
                (b.Attention.KvHeads <= 0 || NumAttentionHeads % b.Attention.KvHeads != 0))
                throw new ArgumentException(
                    $"layer {i}: num_key_value_heads {b.Attention.KvHeads} must divide num_attention_heads {NumAttentionHeads}");
            if (b.Ffn.Kind == FfnKind.SwiGlu && b.Ffn.IntermediateSize <= 0)
                throw new ArgumentException($"layer {i}: intermediate_size must be positive, got {b.Ffn.IntermediateSize}");
        }
    }
}
