using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The GKD loss: a weighted sum of hidden-state cosine, logit KL and language-modelling loss.</summary>
[Description("Weights of the GKD loss terms; at least one must be positive.")]
public sealed record GkdLoss
{
    [Description("Weight of the cosine distance between the child's and parent's hidden states.")]
    [Bounds(Minimum = 0)]
    public double Cosine { get; init; } = 1.0;

    [Description("Weight of the KL divergence from the parent's logits.")]
    [Bounds(Minimum = 0)]
    public double Kl { get; init; } = 1.0;

    [Description("Weight of the language-modelling loss on the text.")]
    [Bounds(Minimum = 0)]
    public double Lm { get; init; }
}
