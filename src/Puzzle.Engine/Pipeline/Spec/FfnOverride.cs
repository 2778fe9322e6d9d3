using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The FFN fields a <see cref="LayerOverride"/> changes; null keeps the global value.</summary>
[Description("FFN fields that differ in some layers; a field left out keeps the global value.")]
public sealed record FfnOverride : SpaceOverride<FfnSpace>
{
    [Description("Intermediate-size fractions to try in these layers, each in (0, 1].")]
    public IReadOnlyList<double>? Ratios { get; init; }

    [Description("Offer a linear layer in place of the FFN.")]
    public bool? Linear { get; init; }

    [Description("Offer dropping the FFN.")]
    public bool? NoOp { get; init; }

    [Description("Round reduced intermediate sizes to a multiple of this.")]
    public int? RoundTo { get; init; }
}
