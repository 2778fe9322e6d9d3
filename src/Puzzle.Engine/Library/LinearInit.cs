namespace Puzzle.Engine.Library;

/// <summary>How a linear replacement of an attention or FFN block starts before distillation.</summary>
public enum LinearInit
{
    /// <summary>As in the Puzzle paper: from the parent block's weights.</summary>
    Paper,
    /// <summary>The least-squares fit of the block's output on its input: over calibration activations to start, then
    /// over every BLD training token in place of gradient steps.</summary>
    LeastSquares,
}
