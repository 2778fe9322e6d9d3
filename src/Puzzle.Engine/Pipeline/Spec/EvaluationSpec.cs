using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The final comparison of the parent, the child and simple baselines of the same cost.</summary>
[Description("The final evaluation: parent, child and baselines on held-out text.")]
public sealed record EvaluationSpec
{
    [Description("Held-out tokens each model is evaluated on.")]
    [Bounds(Minimum = 1)]
    public long Tokens { get; init; } = 50_000;

    [Description("Baseline compressions to compare with.")]
    [UniqueItems]
    public IReadOnlyList<Baseline> Baselines { get; init; } = [Baseline.Uniform, Baseline.ShortGpt, Baseline.Random];

    [Description("Seed of the random baseline's architecture.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }
}
