using System.ComponentModel;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>The attention fields a <see cref="LayerOverride"/> changes; null keeps the global value.</summary>
[Description("Attention fields that differ in some layers; a field left out keeps the global value.")]
public sealed record AttentionOverride : SpaceOverride<AttentionSpace>
{
    [Description("Key/value head counts to try in these layers.")]
    public IReadOnlyList<int>? KvHeads { get; init; }

    [Description("Offer a linear layer in place of attention.")]
    public bool? Linear { get; init; }

    [Description("Offer dropping attention.")]
    public bool? NoOp { get; init; }
}
