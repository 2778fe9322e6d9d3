using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Block library distillation: each variant learns to imitate the parent block it replaces.</summary>
[Description("Block library distillation (BLD): training settings shared by all variants, with per-variant overrides.")]
public sealed record BldSpec
{
    [Description("decoupled: attention and FFN variants trained separately; coupled: every pair trained together.")]
    public BldMode Mode { get; init; } = BldMode.Decoupled;

    [Description("Training tokens per variant.")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; } = 200_000;

    [Description("Peak learning rate (AdamW).")]
    [Bounds(ExclusiveMinimum = 0)]
    public double Lr { get; init; } = 1e-3;

    [Description("Sequences per optimizer step.")]
    [Bounds(Minimum = 1)]
    public int Batch { get; init; } = 8;

    [Description("Fraction of the steps spent warming the learning rate up.")]
    [Bounds(Minimum = 0, ExclusiveMaximum = 1)]
    public double WarmupFraction { get; init; } = 0.05;

    [Description("The learning rate at the end of the cosine decay, as a fraction of the peak.")]
    [Bounds(Minimum = 0, Maximum = 1)]
    public double MinLrRatio { get; init; } = 0.1;

    [Description("AdamW weight decay.")]
    [Bounds(Minimum = 0)]
    public double WeightDecay { get; init; }

    [Description("Gradient norm clip; 0 turns clipping off.")]
    [Bounds(Minimum = 0)]
    public double GradClip { get; init; } = 1.0;

    [Description("Random seed for batch order.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }

    [Description("How linear replacements start: paper (from the parent's weights) or least_squares (fit on activations).")]
    public LinearInit Init { get; init; } = LinearInit.LeastSquares;

    [Description("Layers whose variants one process trains together from one pass of the parent (0: all). Results do not " +
                 "depend on it, so no job key does: it trades memory (every variant's weights and optimizer state at once) for passes.")]
    [Bounds(Minimum = 0)]
    public int LayersPerProcess { get; init; }

    [Description("Training settings for some variants; the last matching entry wins.")]
    public IReadOnlyList<BldVariantOverride> Variants { get; init; } = [];
}
