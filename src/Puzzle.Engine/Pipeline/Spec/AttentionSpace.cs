using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The attention alternatives: fewer key/value heads, a linear layer, or no attention at all.</summary>
[Description("Attention alternatives to the parent's: fewer KV heads, a linear layer, or none.")]
public sealed record AttentionSpace
{
    [Description("Key/value head counts to try (grouped-query attention); each must divide the parent's KV heads, since a variant mean-pools whole groups of them.")]
    [Bounds(Minimum = 1)]
    [UniqueItems]
    public IReadOnlyList<int> KvHeads { get; init; } = [];

    [Description("Offer a linear layer in place of attention.")]
    public bool Linear { get; init; } = true;

    [Description("Offer dropping attention (the residual passes through).")]
    public bool NoOp { get; init; } = true;

    /// <summary>Whether there is at least one alternative to search over.</summary>
    public bool HasOptions => KvHeads.Count > 0 || Linear || NoOp;
}
