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

    [Description("Keep only each block's input in the forward pass and run each block again in the backward pass, one at a time: " +
                 "about one more forward pass of compute for the activation memory of every block but one (tens of GB for an 8B-shaped " +
                 "child at 8 x 512 tokens). The loss and its gradients are the same up to rounding, which is why changing it trains again.")]
    public bool CheckpointActivations { get; init; }

    [Description("Train the embeddings and the LM head as well as the blocks (false: they stay the parent's, which the blocks were " +
                 "distilled against). Frozen, each model uses the parent's own tensors: no copy, no float32 masters or optimizer state, and the " +
                 "head's weight gradient is not computed: an 8B-shaped parent's untied embeddings and head are 1.05B parameters, 14.7 GB less " +
                 "per model on a GPU. It costs quality where a model differs much from the parent, so it is for fitting memory.")]
    public bool TrainEmbeddings { get; init; } = true;

    [Description("Models (children and baselines) one process trains together, on the same batches from one pass of the parent's " +
                 "blocks per batch (0: as many as leave none of the executor's jobs idle, within the memory of the device by estimate; " +
                 "1 on Slurm). Results do not depend on it, so no job key does: it trades memory (every model's weights and optimizer " +
                 "state at once) for passes of the parent.")]
    [Bounds(Minimum = 0)]
    public int ModelsPerProcess { get; init; }

    [Description(CheckpointFields.Every)]
    [Graph.NotInKey(CheckpointFields.NotInKey)]
    [Bounds(Minimum = 1)]
    public int? CheckpointEvery { get; init; }

    [Description(CheckpointFields.Minutes)]
    [Graph.NotInKey(CheckpointFields.NotInKey)]
    [Bounds(ExclusiveMinimum = 0)]
    public double CheckpointMinutes { get; init; } = 10;
}
