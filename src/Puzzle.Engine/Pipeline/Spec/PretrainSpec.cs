using System.ComponentModel;
using Puzzle.Engine.Model;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The shape and training budget of a parent pretrained from the pipeline's data.</summary>
[Description("A small Llama pretrained here: its tokenizer, shape and training budget.")]
public sealed record PretrainSpec
{
    [Description("BPE vocabulary size, including the 256 byte tokens and special tokens.")]
    [Bounds(Minimum = 260)]
    public int VocabSize { get; init; } = 4096;

    [Description("Hidden size d; must be a multiple of heads, with an even head size d / heads.")]
    [Bounds(Minimum = 1)]
    public int Hidden { get; init; } = 256;

    [Description("Number of decoder layers.")]
    [Bounds(Minimum = 1)]
    public int Layers { get; init; } = 6;

    [Description("Attention (query) heads per layer.")]
    [Bounds(Minimum = 1)]
    public int Heads { get; init; } = 8;

    [Description("Key/value heads per layer (grouped-query attention); must divide heads.")]
    [Bounds(Minimum = 1)]
    public int KvHeads { get; init; } = 4;

    [Description("FFN (SwiGLU) intermediate size.")]
    [Bounds(Minimum = 1)]
    public int Intermediate { get; init; } = 704;

    [Description("Share the input embedding with the LM head.")]
    public bool TieEmbeddings { get; init; }

    [Flatten]
    public TrainingSpec Training { get; init; } = new() { Tokens = 2_200_000, Lr = 3e-3, Batch = 16, WeightDecay = 0.1, WarmupSteps = 15 };

    [Description(CheckpointFields.Every + " Neither is part of the Parent job's key: the weights do not depend on them.")]
    [Graph.NotInKey(CheckpointFields.NotInKey)]
    [Bounds(Minimum = 1)]
    public int? CheckpointEvery { get; init; }

    [Description(CheckpointFields.Minutes)]
    [Graph.NotInKey(CheckpointFields.NotInKey)]
    [Bounds(ExclusiveMinimum = 0)]
    public double CheckpointMinutes { get; init; } = 10;

    /// <summary>The parent's architecture for a vocabulary size and a sequence length: a Llama of this shape, with room
    /// for four times the sequence length.</summary>
    public ModelConfig Shape(int vocabSize, int seqLen) =>
        ModelConfig.Llama(vocabSize, Hidden, Layers, Heads, KvHeads, Intermediate, tie: TieEmbeddings, ropeTheta: 10000, maxPositions: seqLen * 4);
}
