using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Global knowledge distillation of the assembled child from the parent.</summary>
[Description("Global knowledge distillation (GKD) of the assembled child from the parent.")]
public sealed record GkdSpec
{
    [Description("Training tokens.")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; } = 200_000;

    [Description("Peak learning rate (AdamW).")]
    [Bounds(ExclusiveMinimum = 0)]
    public double Lr { get; init; } = 3e-4;

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

    [Description("Weights of the distillation losses.")]
    public GkdLoss Loss { get; init; } = new();

    [Description("Save a resumable checkpoint every this many steps.")]
    [Bounds(Minimum = 1)]
    public int CheckpointEvery { get; init; } = 50;
}
