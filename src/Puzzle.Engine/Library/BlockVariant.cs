using Puzzle.Engine.Model;

namespace Puzzle.Engine.Library;

public enum Subblock { Attention, Ffn }

/// <summary>
/// One entry of the block library: a layer's attention or FFN replaced by a variant. Its id
/// (<c>layer3.attention.kv1</c>, <c>layer0.ffn.ratio0.5</c>, <c>layer2.ffn.linear</c>) is what spec overrides match.
/// </summary>
public sealed record BlockVariant(int Layer, Subblock Subblock, AttentionConfig? Attention, FfnConfig? Ffn, string Name, bool IsParent)
{
    public string Id => $"layer{Layer}.{(Subblock == Subblock.Attention ? "attention" : "ffn")}.{Name}";

    /// <summary>No-ops have nothing to learn and the parent's own block is already trained.</summary>
    public bool Trainable => !IsParent && (Subblock == Subblock.Attention ? Attention!.Kind != AttentionKind.NoOp : Ffn!.Kind != FfnKind.NoOp);

    /// <summary>The block whose one subblock is this variant and whose other subblock is absent.</summary>
    public BlockConfig AsBlock => Subblock == Subblock.Attention
        ? new BlockConfig(Attention!, FfnConfig.NoOp)
        : new BlockConfig(AttentionConfig.NoOp, Ffn!);

    public override string ToString() => Id;
}
