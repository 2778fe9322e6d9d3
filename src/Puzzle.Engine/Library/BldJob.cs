namespace Puzzle.Engine.Library;

/// <summary>One variant to train and its settings.</summary>
public sealed record BldJob(BlockVariant Variant, BldOptions Options);
