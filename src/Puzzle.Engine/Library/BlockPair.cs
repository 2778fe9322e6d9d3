namespace Puzzle.Engine.Library;

/// <summary>A whole block of the library (<see cref="Subblock.Block"/>) and the attention and FFN variants it pairs.</summary>
public sealed record BlockPair(BlockVariant Block, BlockVariant Attention, BlockVariant Ffn);
