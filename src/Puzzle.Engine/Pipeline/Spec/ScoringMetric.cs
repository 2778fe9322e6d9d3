namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>How a variant's replace-1-block score is measured against the parent.</summary>
public enum ScoringMetric
{
    /// <summary>KL divergence from the parent's next-token distribution.</summary>
    Kl,
    /// <summary>Language-modelling loss on held-out text.</summary>
    LmLoss,
    /// <summary>Agreement of the top-1 token with the parent's (scored as 1 − agreement).</summary>
    Top1,
}
