using System.ComponentModel;
using Puzzle.Engine.Library;

namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// The block variants every layer may take. The parent's own attention and FFN are always candidates; these are
/// the alternatives the block library adds, and per-layer overrides change them for some layers.
/// </summary>
[Description("The block variants each layer may take; the parent's own blocks are always candidates too.")]
public sealed record SearchSpaceSpec
{
    [Description("Attention variants for every layer.")]
    public AttentionSpace Attention { get; init; } = new();

    [Description("FFN variants for every layer.")]
    public FfnSpace Ffn { get; init; } = new();

    [Description("Overrides for some layers; a field left out keeps the value above.")]
    public IReadOnlyList<LayerOverride> Layers { get; init; } = [];

    /// <summary>The attention variants of <paramref name="layer"/>: the last override covering it applied to <see cref="Attention"/>.</summary>
    public AttentionSpace AttentionFor(int layer) => For(layer, Attention, o => o.Attention);

    /// <summary>The FFN variants of <paramref name="layer"/>: the last override covering it applied to <see cref="Ffn"/>.</summary>
    public FfnSpace FfnFor(int layer) => For(layer, Ffn, o => o.Ffn);

    TSpace For<TSpace>(int layer, TSpace global, Func<LayerOverride, SpaceOverride<TSpace>?> part) where TSpace : class, new() =>
        Layers.LastOrDefault(o => part(o) is not null && o.Covers(layer)) is { } covering ? part(covering)!.ApplyTo(global) : global;

    /// <summary>What the library offers at <paramref name="layer"/>: <see cref="AttentionFor"/> and <see cref="FfnFor"/>
    /// as the library reads them.</summary>
    public LayerAlternatives Alternatives(int layer)
    {
        var (attention, ffn) = (AttentionFor(layer), FfnFor(layer));
        return new(attention.KvHeads, attention.Linear, attention.NoOp, ffn.Ratios, ffn.RoundTo, ffn.Linear, ffn.NoOp);
    }
}
