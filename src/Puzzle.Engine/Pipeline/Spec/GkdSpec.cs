using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Global knowledge distillation of the assembled child from the parent.</summary>
[Description("Global knowledge distillation (GKD) of the assembled child from the parent.")]
public sealed record GkdSpec
{
    [Flatten]
    public TrainingSpec Training { get; init; } = new() { Tokens = 200_000, Lr = 3e-4, Batch = 8, LrReferenceWidth = 192 };

    [Description("Weights of the distillation losses.")]
    public GkdLoss Loss { get; init; } = new();

    [Description("Save a resumable checkpoint every this many steps.")]
    [Graph.NotInKey("how often resumable state is saved changes no weight")]
    [Bounds(Minimum = 1)]
    public int CheckpointEvery { get; init; } = 50;
}
