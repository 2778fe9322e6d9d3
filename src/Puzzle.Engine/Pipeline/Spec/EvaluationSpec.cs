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

    [Description("Multiple-choice task files (JSON lines in lm-evaluation-harness' shape: query, choices, gold) every model is scored on, " +
                 "relative to the spec's folder; accuracy by summed log-likelihood of each choice and per character of it (acc, acc_norm).")]
    [UniqueItems]
    public IReadOnlyList<string> Tasks { get; init; } = [];

    [Description("The task made from held-out text (next words among spans of other passages).")]
    public NextSpanSpec NextSpan { get; init; } = new();

    [Description("Seed of the random baseline's architecture, and of the held-out task's choices.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }
}
