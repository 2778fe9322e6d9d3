using Puzzle.Engine.Model;

namespace Puzzle.Engine.Library;

/// <summary>
/// What a layer's Score job puts in place of the parent's block, one at a time: a library variant (its id is the
/// variant's), or, with <c>scoring.blocks: combined</c> over a decoupled library, an attention × FFN pairing (its id is
/// the pairing's block id, <c>layer2.block.kv1+ratio0.5</c>, as a coupled library names the same block).
/// </summary>
public sealed record ScoreCandidate(BlockVariant? Variant, BlockPair? Pair)
{
    public string Id => Variant?.Id ?? Pair!.Block.Id;

    /// <summary>The library variants whose BLD weights the candidate is built from.</summary>
    public IReadOnlyList<BlockVariant> Parts => Variant is { } v ? [v] : [Pair!.Attention, Pair.Ffn];

    /// <summary>What the Score stage scores: whole blocks when the library's variants are blocks (coupled BLD) or
    /// combined scores are <paramref name="asked"/> for, else each subblock alone.</summary>
    public static ScoreBlocks Blocks(BldMode mode, ScoreBlocks asked) => mode == BldMode.Coupled ? ScoreBlocks.Combined : asked;

    /// <summary>One layer's candidates, the parent's own block (or subblock) left out: it scores 0.</summary>
    /// <param name="alternatives">what each layer offers (the library's search space)</param>
    /// <param name="mode">how BLD trained <paramref name="library"/></param>
    /// <param name="asked">what the scores are asked for: with combined over a decoupled library, every pairing</param>
    /// <param name="library">the library's variants (decoupled or coupled, as BLD trains them)</param>
    public static IReadOnlyList<ScoreCandidate> Of(ModelConfig parent, Func<int, LayerAlternatives> alternatives, BldMode mode, ScoreBlocks asked,
        IReadOnlyList<BlockVariant> library, int layer) =>
        mode == BldMode.Decoupled && asked == ScoreBlocks.Combined
            ? VariantCatalog.Pairs(parent, alternatives).Where(p => p.Block.Layer == layer && !p.Block.IsParent)
                .Select(p => new ScoreCandidate(null, p)).ToList()
            : library.Where(v => v.Layer == layer && !v.IsParent).Select(v => new ScoreCandidate(v, null)).ToList();
}
