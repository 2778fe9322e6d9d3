using System.ComponentModel;
using System.Globalization;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>A different search space for a range of layers; fields it leaves out keep the global value.</summary>
[Description("A search-space override for some layers.")]
public sealed record LayerOverride
{
    [Description("The layers, 0-based and inclusive: \"5\" or \"0-3\".")]
    [Pattern("^[0-9]+(-[0-9]+)?$", Hint = "a layer like \"5\" or an inclusive range like \"0-3\"")]
    public required string Range { get; init; }

    [Description("Attention fields that differ in these layers.")]
    public AttentionOverride? Attention { get; init; }

    [Description("FFN fields that differ in these layers.")]
    public FfnOverride? Ffn { get; init; }

    /// <summary>The first layer of <see cref="Range"/>.</summary>
    public int First => int.Parse(Range.Split('-')[0], CultureInfo.InvariantCulture);

    /// <summary>The last layer of <see cref="Range"/> (inclusive).</summary>
    public int Last => int.Parse(Range.Split('-')[^1], CultureInfo.InvariantCulture);

    public bool Covers(int layer) => layer >= First && layer <= Last;
}
