using System.Globalization;
using Puzzle.Engine.Model;
using Puzzle.Engine.Search;

namespace Puzzle.Engine.Library;

/// <summary>Expands each layer's alternatives into its attention and FFN variants, the parent's own included.</summary>
public static class VariantCatalog
{
    /// <summary>The distinct attention and FFN shapes of a catalog's subblock variants, in catalog order: what a cost is
    /// measured for (cost depends on shape, not layer).</summary>
    public static (IReadOnlyList<AttentionConfig> Attention, IReadOnlyList<FfnConfig> Ffn) Shapes(IEnumerable<BlockVariant> catalog)
    {
        var variants = catalog.ToList();
        return (variants.Where(v => v.Subblock == Subblock.Attention).Select(v => v.Attention!).Distinct().ToList(),
            variants.Where(v => v.Subblock == Subblock.Ffn).Select(v => v.Ffn!).Distinct().ToList());
    }

    /// <param name="alternatives">what each layer (by index) offers besides the parent's own subblocks</param>
    public static IReadOnlyList<BlockVariant> For(ModelConfig parent, Func<int, LayerAlternatives> alternatives)
    {
        var variants = new List<BlockVariant>();
        for (var layer = 0; layer < parent.NumLayers; layer++)
        {
            var own = parent.Blocks[layer];
            var offered = alternatives(layer);
            variants.AddRange(AttentionVariants(layer, own.Attention, offered));
            variants.AddRange(FfnVariants(layer, own.Ffn, offered));
        }
        return variants;
    }

    /// <summary>Coupled BLD: every pairing of a layer's attention and FFN variants, trained together as one block.</summary>
    public static IReadOnlyList<BlockVariant> Coupled(ModelConfig parent, Func<int, LayerAlternatives> alternatives) =>
        Pairs(parent, alternatives).Select(p => p.Block).ToList();

    /// <summary>Every pairing of a layer's attention and FFN variants (the parent's own included): the whole block
    /// (<c>layer2.block.kv1+ratio0.5</c>) and the two subblock variants it is made of.</summary>
    public static IReadOnlyList<BlockPair> Pairs(ModelConfig parent, Func<int, LayerAlternatives> alternatives) =>
        For(parent, alternatives).GroupBy(v => v.Layer).SelectMany(layer =>
            from a in layer.Where(v => v.Subblock == Subblock.Attention)
            from f in layer.Where(v => v.Subblock == Subblock.Ffn)
            select new BlockPair(new BlockVariant(layer.Key, Subblock.Block, a.Attention, f.Ffn, $"{a.Name}+{f.Name}", a.IsParent && f.IsParent), a, f)).ToList();

    /// <summary>The chosen architecture as a model configuration (the parent's shape with each layer's choice of the
    /// library's variants, decoupled or coupled).</summary>
    public static ModelConfig ToModel(ModelConfig parent, Func<int, LayerAlternatives> alternatives, IReadOnlyList<LayerChoice> layers)
    {
        var byId = For(parent, alternatives).Concat(Coupled(parent, alternatives)).ToDictionary(v => v.Id);
        return parent with
        {
            Blocks = layers.Select(l => l.Ffn.Length == 0
                ? byId[l.Attention].AsBlock
                : new BlockConfig(byId[l.Attention].Attention!, byId[l.Ffn].Ffn!)).ToArray(),
        };
    }

    static IEnumerable<BlockVariant> AttentionVariants(int layer, AttentionConfig own, LayerAlternatives offered)
    {
        yield return new BlockVariant(layer, Subblock.Attention, own, null, Name(own), IsParent: true);
        foreach (var kv in offered.KvHeads.Where(k => own.Kind != AttentionKind.Gqa || k != own.KvHeads).Distinct())
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.Gqa(kv), null, $"kv{kv}", false);
        if (offered.LinearAttention && own.Kind != AttentionKind.Linear)
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.Linear, null, "linear", false);
        if (offered.NoOpAttention && own.Kind != AttentionKind.NoOp)
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.NoOp, null, "no_op", false);
    }

    static IEnumerable<BlockVariant> FfnVariants(int layer, FfnConfig own, LayerAlternatives offered)
    {
        yield return new BlockVariant(layer, Subblock.Ffn, null, own, own.Kind == FfnKind.SwiGlu ? "ratio1" : Name(own), IsParent: true);
        if (own.Kind == FfnKind.SwiGlu)
        {
            var widths = new HashSet<int> { own.IntermediateSize };
            foreach (var ratio in offered.FfnRatios)
            {
                var width = Width(own.IntermediateSize, ratio, offered.FfnRoundTo);
                if (widths.Add(width))
                    yield return new BlockVariant(layer, Subblock.Ffn, null, FfnConfig.SwiGlu(width),
                        "ratio" + ratio.ToString("0.####", CultureInfo.InvariantCulture), false);
            }
        }
        if (offered.LinearFfn && own.Kind != FfnKind.Linear)
            yield return new BlockVariant(layer, Subblock.Ffn, null, FfnConfig.Linear, "linear", false);
        if (offered.NoOpFfn && own.Kind != FfnKind.NoOp)
            yield return new BlockVariant(layer, Subblock.Ffn, null, FfnConfig.NoOp, "no_op", false);
    }

    /// <summary>ratio × the parent's width, rounded to the nearest hardware-friendly multiple (at least one multiple).</summary>
    public static int Width(int parentWidth, double ratio, int roundTo)
    {
        var multiples = Math.Max(1, (int)Math.Round(ratio * parentWidth / roundTo, MidpointRounding.AwayFromZero));
        return Math.Min(parentWidth, multiples * roundTo);
    }

    static string Name(AttentionConfig a) => a.Kind switch
    {
        AttentionKind.Gqa => $"kv{a.KvHeads}",
        AttentionKind.Linear => "linear",
        _ => "no_op",
    };

    static string Name(FfnConfig f) => f.Kind == FfnKind.Linear ? "linear" : "no_op";
}
