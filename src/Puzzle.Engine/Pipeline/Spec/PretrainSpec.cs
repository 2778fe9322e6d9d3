using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The shape and training budget of a parent pretrained from the pipeline's data.</summary>
[Description("A small Llama pretrained here: its tokenizer, shape and training budget.")]
public sealed record PretrainSpec
{
    [Description("BPE vocabulary size, including the 256 byte tokens and special tokens.")]
    [Bounds(Minimum = 260)]
    public int VocabSize { get; init; } = 4096;

    [Description("Hidden size d; must be a multiple of heads.")]
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

    [Description("Training tokens.")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; } = 2_200_000;

    [Description("Sequences per optimizer step.")]
    [Bounds(Minimum = 1)]
    public int Batch { get; init; } = 16;

    [Description("Peak learning rate (AdamW).")]
    [Bounds(ExclusiveMinimum = 0)]
    public double Lr { get; init; } = 3e-3;

    [Description("Fraction of the steps spent warming the learning rate up.")]
    [Bounds(Minimum = 0, ExclusiveMaximum = 1)]
    public double WarmupFraction { get; init; } = 0.05;

    [Description("The learning rate at the end of the cosine decay, as a fraction of the peak.")]
    [Bounds(Minimum = 0, Maximum = 1)]
    public double MinLrRatio { get; init; } = 0.1;

    [Description("AdamW weight decay.")]
    [Bounds(Minimum = 0)]
    public double WeightDecay { get; init; } = 0.1;

    [Description("Gradient norm clip; 0 turns clipping off.")]
    [Bounds(Minimum = 0)]
    public double GradClip { get; init; } = 1.0;

    [Description("Random seed for initialisation and batch order.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }

    [Description("Save a resumable checkpoint every this many steps (not part of the Parent job's key: the weights do not depend on it).")]
    [Bounds(Minimum = 1)]
    public int CheckpointEvery { get; init; } = 50;
}
