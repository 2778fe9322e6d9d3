using System.ComponentModel;
using Puzzle.Engine.Library;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Block library distillation: each variant learns to imitate the parent block it replaces.</summary>
[Description("Block library distillation (BLD): training settings shared by all variants, with per-variant overrides.")]
public sealed record BldSpec
{
    [Description("decoupled: attention and FFN variants trained separately; coupled: every pair trained together.")]
    public BldMode Mode { get; init; } = BldMode.Decoupled;

    [Flatten]
    public TrainingSpec Training { get; init; } = new() { Tokens = 200_000, Lr = 1e-3, Batch = 8 };

    [Description("How linear replacements start: paper (from the parent's weights) or least_squares (fit on activations).")]
    public LinearInit Init { get; init; } = LinearInit.LeastSquares;

    [Description("Layers whose variants one process trains together from one pass of the parent (0: all). Results do not " +
                 "depend on it, so no job key does: it trades memory (every variant's weights and optimizer state at once) for passes.")]
    [Bounds(Minimum = 0)]
    public int LayersPerProcess { get; init; }

    [Description("Training settings for some variants; the last matching entry wins.")]
    public IReadOnlyList<BldVariantOverride> Variants { get; init; } = [];
}
