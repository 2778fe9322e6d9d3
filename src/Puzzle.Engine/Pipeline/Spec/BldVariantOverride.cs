using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>Different BLD settings for the variants <see cref="Match"/> selects.</summary>
[Description("BLD settings for the variants a pattern selects.")]
public sealed record BldVariantOverride
{
    [Description("layerN|*, then attention|ffn|block|*, then the variant: kvN, ratioR, linear, no_op, ATTENTION+FFN (coupled mode) or *; e.g. layer3.ffn.ratio0.5, *.attention.linear, layer2.block.kv1+ratio0.5.")]
    [Pattern(@"^(layer[0-9]+|\*)\.(attention|ffn|block|\*)\.((kv[0-9]+|ratio[0-9]*\.?[0-9]+|linear|no_op)(\+(kv[0-9]+|ratio[0-9]*\.?[0-9]+|linear|no_op))?|\*)$",
        Hint = "layerN|* . attention|ffn|block|* . kvN|ratioR|linear|no_op|ATTENTION+FFN|*, e.g. layer3.ffn.ratio0.5 or *.attention.linear")]
    public required string Match { get; init; }

    [Description("Peak learning rate for these variants.")]
    [Bounds(ExclusiveMinimum = 0)]
    public double? Lr { get; init; }

    [Description("Training tokens for these variants.")]
    [Bounds(Minimum = 1)]
    public long? Tokens { get; init; }
}
