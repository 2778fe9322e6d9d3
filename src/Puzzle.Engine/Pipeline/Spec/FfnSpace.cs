using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The FFN alternatives: a narrower intermediate size, a linear layer, or no FFN at all.</summary>
[Description("FFN alternatives to the parent's: narrower intermediate sizes, a linear layer, or none.")]
public sealed record FfnSpace
{
    [Description("Intermediate sizes to try, as fractions of the parent's, each in (0, 1].")]
    [Bounds(ExclusiveMinimum = 0, Maximum = 1)]
    [UniqueItems]
    public IReadOnlyList<double> Ratios { get; init; } = [0.75, 0.5, 0.25];

    [Description("Offer a linear layer in place of the FFN.")]
    public bool Linear { get; init; } = true;

    [Description("Offer dropping the FFN (the residual passes through).")]
    public bool NoOp { get; init; } = true;

    [Description("Round reduced intermediate sizes to a multiple of this.")]
    [Bounds(Minimum = 1)]
    public int RoundTo { get; init; } = 64;

    /// <summary>Whether there is at least one alternative to search over.</summary>
    public bool HasOptions => Ratios.Count > 0 || Linear || NoOp;
}
