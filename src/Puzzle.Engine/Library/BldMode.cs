namespace Puzzle.Engine.Library;

/// <summary>Which blocks block library distillation trains (the Puzzle paper's decoupled and coupled BLD).</summary>
public enum BldMode
{
    /// <summary>Attention and FFN variants are trained separately, each next to the parent's other subblock: |A| + |F| runs per layer.</summary>
    Decoupled,
    /// <summary>Every (attention, FFN) pair is trained as one block: |A| x |F| runs per layer.</summary>
    Coupled,
}
