using System.Globalization;
using Puzzle.Engine.Model;
using Puzzle.Engine.Pipeline.Spec;

namespace Puzzle.Engine.Library;

/// <summary>Expands the spec's search space into every layer's attention and FFN variants, the parent's own included.</summary>
public static class VariantCatalog
{
    public static IReadOnlyList<BlockVariant> For(ModelConfig parent, SearchSpaceSpec space)
    {
        var variants = new List<BlockVariant>();
        for (var layer = 0; layer < parent.NumLayers; layer++)
        {
            var own = parent.Blocks[layer];
            variants.AddRange(AttentionVariants(layer, own.Attention, space.AttentionFor(layer)));
            variants.AddRange(FfnVariants(layer, own.Ffn, space.FfnFor(layer)));
        }
        return variants;
    }

    /// <summary>Coupled BLD: every pairing of a layer's attention and FFN variants, trained together as one block.</summary>
    public static IReadOnlyList<BlockVariant> Coupled(ModelConfig parent, SearchSpaceSpec space) =>
        Pairs(parent, space).Select(p => p.Block).ToList();

    /// <summary>Every pairing of a layer's attention and FFN variants (the parent's own included): the whole block
    /// (<c>layer2.block.kv1+ratio0.5</c>) and the two subblock variants it is made of.</summary>
    public static IReadOnlyList<BlockPair> Pairs(ModelConfig parent, SearchSpaceSpec space) =>
        For(parent, space).GroupBy(v => v.Layer).SelectMany(layer =>
            from a in layer.Where(v => v.Subblock == Subblock.Attention)
            from f in layer.Where(v => v.Subblock == Subblock.Ffn)
            select new BlockPair(new BlockVariant(layer.Key, Subblock.Block, a.Attention, f.Ffn, $"{a.Name}+{f.Name}", a.IsParent && f.IsParent), a, f)).ToList();

    static IEnumerable<BlockVariant> AttentionVariants(int layer, AttentionConfig own, AttentionSpace space)
    {
        yield return new BlockVariant(layer, Subblock.Attention, own, null, Name(own), IsParent: true);
        foreach (var kv in space.KvHeads.Where(k => own.Kind != AttentionKind.Gqa || k != own.KvHeads).Distinct())
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.Gqa(kv), null, $"kv{kv}", false);
        if (space.Linear && own.Kind != AttentionKind.Linear)
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.Linear, null, "linear", false);
        if (space.NoOp && own.Kind != AttentionKind.NoOp)
            yield return new BlockVariant(layer, Subblock.Attention, AttentionConfig.NoOp, null, "no_op", false);
    }

    static IEnumerable<BlockVariant> FfnVariants(int layer, FfnConfig own, FfnSpace space)
    {
        yield return new BlockVariant(layer, Subblock.Ffn, null, own, own.Kind == FfnKind.SwiGlu ? "ratio1" : Name(own), IsParent: true);
        if (own.Kind == FfnKind.SwiGlu)
        {
            var widths = new HashSet<int> { own.IntermediateSize };
            foreach (var ratio in space.Ratios)
            {
                var width = Width(own.IntermediateSize, ratio, space.RoundTo);
                if (widths.Add(width))
                    yield return new BlockVariant(layer, Subblock.Ffn, null, FfnConfig.SwiGlu(width),
                        "ratio" + ratio.ToString("0.####", CultureInfo.InvariantCulture), false);
            }
        }
        if (space.Linear && own.Kind != FfnKind.Linear)
            yield return new BlockVariant(layer, Subblock.Ffn, null, FfnConfig.Linear, "linear", false);
        if (space.NoOp && own.Kind != FfnKind.NoOp)
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
