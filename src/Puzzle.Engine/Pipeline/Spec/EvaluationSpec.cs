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
                 "relative to the repository root (the folder holding pipelines/; for a spec elsewhere, its own folder); accuracy by summed log-likelihood of each choice and per character of it (acc, acc_norm).")]
    [UniqueItems]
    public IReadOnlyList<string> Tasks { get; init; } = [];

    [Description("The task made from held-out text (next words among spans of other passages).")]
    public NextSpanSpec NextSpan { get; init; } = new();

    [Description("Further throughput targets (× parent) at which every method (the Puzzle search and each baseline) is chosen again, " +
                 "assembled from the library without GKD and evaluated (KL, agreement, top-1, measured speedup; no tasks), so that the report " +
                 "compares methods at equal measured speed on curves of quality against measured speedup. The models at the spec's own " +
                 "target are the healed ones. Left out: constraints.throughput_vs_parent ± 0.5, the lower one at least halfway between the " +
                 "parent and the target (1.25 and 2 for 1.5), none without a throughput constraint; [] turns them off.")]
    [Bounds(ExclusiveMinimum = 1)]
    [UniqueItems]
    public IReadOnlyList<double>? SpeedTargets { get; init; }

    /// <summary>The extra targets: <see cref="SpeedTargets"/> as written, else derived from the spec's throughput
    /// target; sorted, and without the spec's own target (its models are the healed ones).</summary>
    public static IReadOnlyList<double> ExtraTargets(EvaluationSpec evaluation, ConstraintsSpec constraints)
    {
        var target = constraints.ThroughputVsParent;
        var targets = evaluation.SpeedTargets
                      ?? (target is { } t ? [Math.Max(t - 0.5, (1 + t) / 2), t + 0.5] : []);
        return targets.Where(x => target is not { } t || Math.Abs(x - t) > 1e-9).Order().ToList();
    }

    [Description("Seed of the random baseline's architecture, and of the held-out task's choices.")]
    [Bounds(Minimum = 0)]
    public long Seed { get; init; }
}
