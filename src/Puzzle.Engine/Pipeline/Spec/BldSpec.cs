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
    public TrainingSpec Training { get; init; } = new() { Tokens = 200_000, Lr = 1e-3, Batch = 8, LrReferenceWidth = 192 };

    [Description("How linear replacements are trained: paper (start from the parent's weights, then gradient steps) or least_squares " +
                 "(the exact least-squares fit over all the BLD tokens, which is the optimum of the BLD loss for a linear subblock).")]
    public LinearInit Init { get; init; } = LinearInit.LeastSquares;

    [Description("Layers whose variants one process trains together from one pass of the parent (0: as many as the device's memory holds by " +
                 "estimate, the GPU's shared by executor.jobs_per_gpu jobs or this machine's by executor.jobs, spread evenly over as few processes as fit). Results do not depend on it, so no " +
                 "job key does: it trades memory (every variant's weights and optimizer state at once) for passes.")]
    [Bounds(Minimum = 0)]
    public int LayersPerProcess { get; init; }

    [Description("Training settings for some variants; the last matching entry wins.")]
    public IReadOnlyList<BldVariantOverride> Variants { get; init; } = [];

    /// <summary>One variant's training settings: these with the last matching entry of <see cref="Variants"/> applied.</summary>
    public TrainingSpec TrainingFor(string variantId)
    {
        var match = Variants.LastOrDefault(v => Matches(v.Match, variantId));
        return Training with { Tokens = match?.Tokens ?? Training.Tokens, Lr = match?.Lr ?? Training.Lr };
    }

    /// <summary>One variant's BLD options (<see cref="TrainingFor"/>, and <see cref="Init"/>) for a parent of this hidden size.</summary>
    public BldOptions Options(string variantId, int hiddenSize) => Options(TrainingFor(variantId), Init, hiddenSize);

    /// <summary>The distiller's options for a variant's training settings: the one mapping from spec to BLD.</summary>
    public static BldOptions Options(TrainingSpec training, LinearInit init, int hiddenSize) =>
        new(training.OptionsAt(hiddenSize), training.Batch, training.Seed, init);

    /// <summary><c>layerN|*</c> . <c>attention|ffn|block|*</c> . <c>variant|*</c>: each of the three parts equal or <c>*</c>.</summary>
    public static bool Matches(string pattern, string variantId)
    {
        var p = pattern.Split('.', 3); // the variant part may hold a dot itself (ratio0.5)
        var v = variantId.Split('.', 3);
        return p.Length == v.Length && p.Zip(v).All(x => x.First == "*" || x.First == x.Second);
    }
}
