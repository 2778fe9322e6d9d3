using Puzzle.Engine.Model;

namespace Puzzle.Engine.Library;

/// <summary>What a variant replaces: one subblock (decoupled BLD) or the whole block (coupled BLD).</summary>
public enum Subblock { Attention, Ffn, Block }

/// <summary>
/// One entry of the block library: a layer's attention or FFN replaced by a variant, or (coupled) both at once. Its
/// id (<c>layer3.attention.kv1</c>, <c>layer0.ffn.ratio0.5</c>, <c>layer2.block.kv1+ratio0.5</c>) is what spec overrides match.
/// </summary>
public sealed record BlockVariant(int Layer, Subblock Subblock, AttentionConfig? Attention, FfnConfig? Ffn, string Name, bool IsParent)
{
    public string Id => $"layer{Layer}.{Subblock.ToString().ToLowerInvariant()}.{Name}";

    /// <summary>No-ops have nothing to learn and the parent's own block is already trained.</summary>
    public bool Trainable => !IsParent && Subblock switch
    {
        Subblock.Attention => Attention!.Kind != AttentionKind.NoOp,
        Subblock.Ffn => Ffn!.Kind != FfnKind.NoOp,
        _ => Attention!.Kind != AttentionKind.NoOp || Ffn!.Kind != FfnKind.NoOp,
    };

    /// <summary>The block this variant trains: its subblock(s), with the other subblock absent in decoupled mode.</summary>
    public BlockConfig AsBlock => new(Attention ?? AttentionConfig.NoOp, Ffn ?? FfnConfig.NoOp);

    public override string ToString() => Id;
}
