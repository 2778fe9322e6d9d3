using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The FFN fields a <see cref="LayerOverride"/> changes; null keeps the global value.</summary>
[Description("FFN fields that differ in some layers; a field left out keeps the global value.")]
public sealed record FfnOverride
{
    [Description("Intermediate-size fractions to try in these layers, each in (0, 1].")]
    [Bounds(ExclusiveMinimum = 0, Maximum = 1)]
    [UniqueItems]
    public IReadOnlyList<double>? Ratios { get; init; }

    [Description("Offer a linear layer in place of the FFN.")]
    public bool? Linear { get; init; }

    [Description("Offer dropping the FFN.")]
    public bool? NoOp { get; init; }

    [Description("Round reduced intermediate sizes to a multiple of this.")]
    [Bounds(Minimum = 1)]
    public int? RoundTo { get; init; }

    public FfnSpace ApplyTo(FfnSpace global) => global with
    {
        Ratios = Ratios ?? global.Ratios,
        Linear = Linear ?? global.Linear,
        NoOp = NoOp ?? global.NoOp,
        RoundTo = RoundTo ?? global.RoundTo,
    };
}
