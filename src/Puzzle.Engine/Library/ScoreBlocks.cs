namespace Puzzle.Engine.Library;

/// <summary>What the Score stage puts in place of a parent layer, and so what the search adds up.</summary>
public enum ScoreBlocks
{
    /// <summary>Each attention and each FFN variant alone, next to the parent's other subblock; a layer's predicted
    /// quality is the sum of its two subblocks' scores.</summary>
    Subblocks,
    /// <summary>Every attention × FFN pairing of a layer as one block (the paper's replace-1-block); a layer's predicted
    /// quality is its chosen pairing's own score, so interactions (no-op + no-op drops the layer) are seen.</summary>
    Combined,
}
